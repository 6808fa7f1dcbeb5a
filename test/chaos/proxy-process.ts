// Rivulet's REST proxy (`bin/rivulet.mjs proxy`) as a process the edge scenario can crash and
// start again on the same port: spawned on 127.0.0.1, signalled by the pid this file spawned
// (never by name), killed when the runner exits.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort } from "../infra/kafka-control.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "rivulet.mjs");

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

export interface RestartableProxy {
  readonly url: string;
  /**
   * Stops it (`SIGTERM`: a clean shutdown; `SIGKILL`: a crash), waits `downMs`, starts it again.
   * Resolves with how long stopping took and whether a SIGTERM had to be followed by SIGKILL.
   */
  restart(how: "SIGTERM" | "SIGKILL", downMs: number): Promise<{ stopSeconds: number; forced: boolean }>;
  stop(): Promise<void>;
  /** What it wrote to stderr, all its lives. */
  log(): string;
}

export async function startRestartableProxy(
  bootstrap: string,
  args: string[] = [],
): Promise<RestartableProxy> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const c = spawn(
      process.execPath,
      [bin, "proxy", "--brokers", bootstrap, "--port", String(port), "--host", "127.0.0.1", ...args],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    child = c;
    live.add(c);
    exited = new Promise((resolve) =>
      c.once("exit", () => {
        live.delete(c);
        resolve();
      }),
    );
    let out = "";
    c.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    c.stderr!.setEncoding("utf8").on("data", (d: string) => (log += d));
    const deadline = Date.now() + 60_000;
    while (!out.includes(url)) {
      if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline)
        throw new Error(`the REST proxy did not start on ${url}:\n${log.slice(-2_000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (how: "SIGTERM" | "SIGKILL") => {
    const c = child;
    const started = Date.now();
    let forced = false;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill(how);
      const timer = setTimeout(() => {
        forced = true;
        c.kill("SIGKILL");
      }, 15_000);
      await exited;
      clearTimeout(timer);
    }
    return { stopSeconds: (Date.now() - started) / 1_000, forced };
  };
  await start();
  return {
    url,
    async restart(how, downMs) {
      const stopped = await stop(how);
      await new Promise((r) => setTimeout(r, downMs));
      await start();
      return stopped;
    },
    stop: async () => {
      await stop("SIGTERM");
    },
    log: () => log,
  };
}
