// Job processes (test/chaos/job-process.ts) of a consumer group: started, watched through their
// output lines, killed and paused by the pid this file spawned (never by name). Each has an IPC
// channel: the runner aims kills through it, and a member whose runner is gone kills itself.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const script = join(root, "test/chaos/job-process.ts");

/** Where a commit kill lands (see job-process.ts). */
export type CommitStage = "sent" | "offsets" | "ending";
/** Where a restore kill lands (see job-process.ts). */
export type RestoreStage = "settle" | "offsets" | "load";

export interface Member {
  readonly instance: number;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the first line matching `re` printed from now on (or rejects when it exits first). */
  next(re: RegExp, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  /** It SIGKILLs itself at `stage` of its next commit. */
  dieInCommit(stage: CommitStage): void;
}

/** Every member started and not yet exited: killed when the runner exits, whatever the reason. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

export function startMember(env: Record<string, string>, nodeArgs: string[] = []): Member {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  live.add(child);
  let out = "";
  let partial = "";
  const watchers = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    for (const line of lines)
      for (const w of watchers)
        if (w.re.test(line)) {
          watchers.delete(w);
          w.resolve(line);
        }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.on("error", () => {}); // an IPC send to a process that just died
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const next = (re: RegExp, timeoutMs = 120_000) =>
    new Promise<string>((resolve, reject) => {
      const w = {
        re,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        watchers.delete(w);
        reject(new Error(`member ${env.RIVULET_INSTANCE} printed no ${re} within ${timeoutMs} ms`));
      }, timeoutMs);
      watchers.add(w);
      void exited.then((code) => {
        if (!watchers.has(w)) return;
        watchers.delete(w);
        clearTimeout(timer);
        reject(new Error(`member ${env.RIVULET_INSTANCE} exited (${code}) before printing ${re}`));
      });
    });
  const ready = next(/^ready$/, 180_000).then(() => {});
  ready.catch(() => {});
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    instance: Number(env.RIVULET_INSTANCE ?? 0),
    child,
    ready,
    exited,
    output: () => out,
    next,
    alive,
    dieInCommit: (stage) => {
      if (alive() && child.connected) child.send({ die: "commit", stage });
    },
  };
}

/** SIGKILL by pid; resolves once it has exited. */
export async function killMember(m: Member): Promise<void> {
  if (m.alive()) m.child.kill("SIGKILL");
  await m.exited;
}

/** SIGTERM by pid (the job commits and stops); resolves with its exit code. */
export async function stopMember(m: Member, timeoutMs = 60_000): Promise<number | null> {
  if (!m.alive()) return m.child.exitCode;
  m.child.kill("SIGCONT"); // a paused member could not stop
  m.child.kill("SIGTERM");
  const timer = setTimeout(() => m.child.kill("SIGKILL"), timeoutMs);
  const code = await m.exited;
  clearTimeout(timer);
  return code;
}

/** The last `progress` line: records read and checkpoints committed. */
export function progressOf(m: Member): { records: number; checkpoints: number } {
  const last = [...m.output().matchAll(/^progress (\d+) (\d+)$/gm)].at(-1);
  return { records: Number(last?.[1] ?? 0), checkpoints: Number(last?.[2] ?? 0) };
}

export interface Death {
  where: "commit" | "restore" | "other";
  /** The step it was in: the stage of an aimed kill, else what its output shows. */
  stage: string;
}

/**
 * Where a member was when it died, from what it printed: inside a commit (a `commit-start`
 * without its end), inside a restore (a `restore-start` without its end), or neither.
 */
export function diedIn(m: Member): Death {
  const out = m.output();
  const aimed = /^event die (commit|restore) (\S+)$/m.exec(out);
  if (aimed) return { where: aimed[1] as "commit" | "restore", stage: aimed[2]! };
  const lastStart = out.lastIndexOf("event restore-start");
  if (lastStart >= 0 && out.indexOf("event restore-end", lastStart) < 0)
    return { where: "restore", stage: "random" };
  const started = [...out.matchAll(/^event commit-start (\d+)$/gm)].at(-1)?.[1];
  if (started !== undefined && !new RegExp(`^event commit-end ${started} `, "m").test(out))
    return { where: "commit", stage: "random" };
  return { where: "other", stage: /^ready$/m.test(out) ? "running" : "starting" };
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
