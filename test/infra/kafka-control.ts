// A real broker whose process a test may stop, kill, pause and start again on the same ports and
// the same data: for the chaos scenarios (test/chaos). It is started by test/infra/kafka.mjs
// (same configuration, a fresh directory under .cache/chaos-kafka kept across restarts), then
// restarted here with the same command line, so kafka.mjs keeps its behaviour. Its ports are
// free ones, never the shared broker's. Every process is signalled by the pid this file (or
// kafka.mjs) spawned, never by name; a watchdog kills the broker and removes its directory if
// this process dies without stopping it.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";

interface Started {
  bootstrap: string;
  port: number;
  controllerPort: number;
  pid: number;
  logDir: string;
  logFile: string;
  version: string;
  stop(): Promise<void>;
}

interface KafkaInfra {
  startKafka(opts?: Record<string, unknown>): Promise<Started>;
  ensureKafkaLibs(opts?: { version?: string; quiet?: boolean }): Promise<string>;
}

// A plain JS module without types: imported by URL so that the type checker does not look for them.
const infra = () => import(new URL("./kafka.mjs", import.meta.url).href) as Promise<KafkaInfra>;

/** test/infra/kafka.mjs's startKafka, typed: a broker on 9092 when free, else on free ports. */
export async function startKafka(opts: Record<string, unknown> = {}): Promise<Started> {
  return (await infra()).startKafka(opts);
}

export interface ControlledKafka {
  readonly bootstrap: string;
  /** The broker's current pid (a restart makes a new process). */
  pid(): number;
  /**
   * Stops the broker (`SIGTERM`: a clean shutdown; `SIGKILL`: a crash), keeps it down for
   * `downMs`, starts it again on the same ports and data; resolves once it answers metadata.
   * Returns how long it was unreachable (s).
   */
  restart(how: "SIGTERM" | "SIGKILL", downMs?: number): Promise<number>;
  /** SIGSTOP / SIGCONT: the process freezes (no request answered, no session expired) and goes on. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const root = join(import.meta.dirname, "..", "..");

/** A broker of its own on free ports (never the shared one's), restartable. */
export async function startControlledKafka(
  parentDir = join(root, ".cache", "chaos-kafka"),
): Promise<ControlledKafka> {
  const { startKafka, ensureKafkaLibs } = await infra();
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const first = await startKafka({ port, controllerPort, keep: true, parentDir });
  const libs = join(await ensureKafkaLibs({ version: first.version, quiet: true }), "libs");
  const dir = first.logDir;
  let pid = first.pid;
  let child: ChildProcess | undefined;
  let watchdog: number | undefined;
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  const exitHook = () => {
    if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", exitHook);
  watchdog = startWatchdog(process.pid, pid, dir);

  const waitExit = async (p: number, ms: number) => {
    const deadline = Date.now() + ms;
    while (alive(p) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return !alive(p);
  };
  const spawnBroker = () => {
    const log = openSync(join(dir, "kafka.log"), "a");
    const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
    child = spawn(
      java,
      [
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.net.preferIPv4Stack=true",
        "-Djava.awt.headless=true",
        `-Dlog4j2.configurationFile=${join(dir, "log4j2.properties")}`,
        "-cp",
        `${libs}/*`,
        "kafka.Kafka",
        join(dir, "server.properties"),
      ],
      { cwd: dir, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    pid = child.pid!;
    if (watchdog) {
      try {
        process.kill(watchdog, "SIGTERM");
      } catch {}
    }
    watchdog = startWatchdog(process.pid, pid, dir);
  };

  return {
    bootstrap: first.bootstrap,
    pid: () => pid,
    async restart(how, downMs = 0) {
      const down = Date.now();
      process.kill(pid, "SIGCONT");
      process.kill(pid, how);
      if (!(await waitExit(pid, how === "SIGTERM" ? 60_000 : 10_000))) {
        process.kill(pid, "SIGKILL");
        await waitExit(pid, 10_000);
      }
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      spawnBroker();
      await answers(first.bootstrap, 120_000, () => child?.exitCode !== null);
      return (Date.now() - down) / 1_000;
    },
    pause: () => process.kill(pid, "SIGSTOP"),
    resume: () => process.kill(pid, "SIGCONT"),
    async stop() {
      process.removeListener("exit", exitHook);
      if (alive(pid)) {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGTERM");
        if (!(await waitExit(pid, 20_000))) {
          process.kill(pid, "SIGKILL");
          await waitExit(pid, 10_000);
        }
      }
      if (watchdog) {
        try {
          process.kill(watchdog, "SIGTERM");
        } catch {}
      }
      await first.stop(); // its own bookkeeping (its pid is long gone)
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the broker at `bootstrap` answers metadata requests. */
async function answers(bootstrap: string, timeoutMs: number, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (gone()) throw new Error(`the broker at ${bootstrap} exited while starting again`);
    const admin = new Kafka({
      clientId: "rivulet-chaos-probe",
      brokers: [bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      requestTimeout: 3_000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      await admin.listTopics();
      return;
    } catch (e) {
      last = e;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the broker at ${bootstrap} did not come back within ${timeoutMs} ms: ${last}`);
}

/**
 * A `sh` in its own session that SIGKILLs the broker and removes its directory once `parent` is
 * gone (this process killed); it exits by itself when the broker does.
 */
function startWatchdog(parent: number, broker: number, dir: string): number | undefined {
  const script = `while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
if kill -0 "$2" 2>/dev/null; then kill -KILL "$2" 2>/dev/null; sleep 1; rm -rf "$3"; fi`;
  try {
    const w = spawn("sh", ["-c", script, "rivulet-chaos-watchdog", String(parent), String(broker), dir], {
      detached: true,
      stdio: "ignore",
    });
    w.on("error", () => {});
    w.unref();
    return w.pid;
  } catch {
    return undefined;
  }
}
