/**
 * `rivulet run`: runs a pipeline module against Kafka until SIGINT/SIGTERM (or, with `--drain`,
 * until the input in the topics is processed), with a live status line and Prometheus metrics.
 * `rivulet proxy` serves the Kafka REST proxy (rest-proxy/command.ts).
 * `bin/rivulet.mjs` launches it; `main` is exported so tests can drive it in-process.
 *
 * @example
 * // rivulet run pipelines/clicks.ts perMinute --brokers 127.0.0.1:9092 --group clicks
 * import { main } from "./cli.js";
 * process.exitCode = await main(process.argv.slice(2));
 *
 * @module
 */
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { availableParallelism } from "node:os";
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type Broker,
  describeError,
  type ErrorPolicy,
  isRivuletError,
  type Job,
  Pipeline,
  RivuletError,
  type RunOptions,
  run,
  type TaskMode,
  topicNameProblem,
} from "../../core/index.js";
import { accounting, StatusLine, StatusWriter } from "./cli-status.js";
import { runWorkers, type WorkerChannel, workerChannel } from "./cli-workers.js";
import { FileStateStore } from "./file-state-store.js";
import {
  KAFKA_SECURITY_OPTIONS,
  type KafkaSecurity,
  kafkaSecurity,
  kafkaSecurityUsage,
  UsageError,
} from "./kafka-security-flags.js";
import { type MetricsServer, serveMetrics } from "./metrics.js";

const USAGE = `Usage: rivulet <command> [options]

Commands:
  run <pipeline module> [export name]   run a pipeline against Kafka
  proxy --brokers <list> --port <n>     serve Kafka over HTTP: a REST proxy (Confluent's v2 API)

Options:
  -h, --help                            show help (rivulet run --help, rivulet proxy --help:
                                        the options of each command)

Exit codes: 0 stopped cleanly or drained, 1 the job failed or could not start, 2 bad usage.
`;

const RUN_USAGE = `Usage: rivulet run <pipeline module> [export name] --brokers <host:port,...> --group <id> [options]

Runs a pipeline built with Rivulet's API (import { Pipeline } from "rivulet") against Kafka
until SIGINT or SIGTERM, which stop it cleanly: the current batch is committed, the consumer
leaves the group, the process exits 0. A second signal exits at once (code 130).

<pipeline module>   a .ts, .mts, .js or .mjs file (TypeScript needs the package tsx)
[export name]       the export to run; default: the default export, else the module's only
                    Pipeline export (a stream ending in .to(topic), or Pipeline.all(...))

Options:
  --brokers <list>            Kafka bootstrap servers, host:port[,host:port] (required)
  --group <id>                consumer group (required); a restart with the same group resumes
                              from its committed offsets (and checkpoint, with --state-dir)
  --guarantee <g>             exactly-once (default: Kafka transactions, outputs and offsets
                              commit atomically, read_committed) or at-least-once
  --producer <client>         the client that writes: kafkajs (default) or platformatic
                              (@platformatic/kafka, npm install @platformatic/kafka: ~1.3-1.4x
                              the events/s per core; consumers stay on KafkaJS). Default: the
                              environment variable RIVULET_KAFKA_PRODUCER if set
  --state-dir <dir>           keep checkpoints of window and keyed state in files in <dir>, so a
                              restart resumes with its state. Without it there is no state store:
                              state lives in memory only, a restart resumes from the committed
                              offsets with empty state, and windows open at the stop are lost.
                              Files are local: processes of a group must share the directory
                              (one machine)
  --state kafka               keep checkpoints in a compacted changelog topic <group>-changelog,
                              written in the same transaction as outputs and offsets: any
                              process on any machine can take over a partition and its state
  --tasks <mode>              shared (default: one set of operators for every partition the
                              process holds, watermarks the minimum over all of them, keyBy
                              shuffles in memory, any input) or per-partition (each partition
                              number is a task with its own operators, state and watermarks,
                              as in Kafka Streams: the output does not depend on how the
                              group's processes share the partitions or hand them over; needs
                              input keyed by the keyBy key, or .repartition()). Use
                              per-partition to scale out over several processes
  --checkpoint-interval <ms>  with state: minimum time between checkpoints (default 0,
                              every batch; sooner when the consumer can fetch no more until
                              the job commits); outputs become visible at checkpoints.
                              Without state, outputs and offsets commit after every batch
  --dead-letter-topic <t>     topic for malformed records and, with --on-error dead-letter,
                              failing ones (default rivulet-dlq)
  --on-error <policy>         what a throwing user function does: fail (default: the job
                              stops, exit 1) or dead-letter (the record goes to the
                              dead-letter topic with the reason, the job goes on)
  --drain                     process what is in the topics now, fire every open window,
                              commit and exit 0 (a bounded, batch-style run); one process only
  --workers <n|auto>          run <n> processes (auto: one per core) in the group, with
                              per-partition tasks (--tasks shared is refused), under this one:
                              one status line, one --metrics-port (counters summed, partition
                              gauges labelled worker="i"); signals go to every worker. A worker
                              that fails stops the others (exit 1); none is restarted.
                              Not with --drain (default 1: this process runs the job)
  --metrics-port <n>          serve Prometheus metrics at http://<host>:<n>/metrics (0: any
                              free port, printed at start)
  --metrics-host <addr>       interface for the metrics server (default 127.0.0.1)
  --client-id <id>            Kafka client id (default rivulet)
  --status-interval <ms>      status line period (default 1000 on a terminal, where it is
                              rewritten in place, else 5000; 0 turns it off)
  -h, --help                  show this help

Kafka security (every client of the job: consumers, producer, admin, --state kafka):
${kafkaSecurityUsage(30)}
Output topics that do not exist are created with the partition count of the first source.
The status line (stderr) shows records/s in and out, total lag, the watermark and the age of
the last checkpoint.

Example:
  rivulet run pipelines/clicks.ts perMinute --brokers 127.0.0.1:9092 --group clicks \\
    --state-dir .rivulet/clicks --metrics-port 9464
  RIVULET_SASL_PASSWORD=... rivulet run pipelines/clicks.ts --brokers kafka:9094 --group clicks \\
    --sasl-mechanism scram-sha-256 --sasl-username clicks --tls-ca ca.pem
`;

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Base for relative paths (default `process.cwd()`). */
  cwd?: string;
  /** Environment the SASL password is read from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Subscribes to the shutdown signals; returns an unsubscribe (default: SIGINT and SIGTERM). */
  onSignal?: (handler: (signal: string) => void) => () => void;
}

type KafkaLikeBroker = Broker & { close(): Promise<void> };

/** What `rivulet run` was asked to do, validated. */
interface RunCommand {
  module: string;
  exportName: string | undefined;
  brokers: string[];
  group: string;
  guarantee: "exactly-once" | "at-least-once";
  producer: "kafkajs" | "platformatic" | undefined;
  stateDir: string | undefined;
  kafkaState: boolean;
  tasks: TaskMode | undefined;
  checkpointInterval: number | undefined;
  deadLetterTopic: string | undefined;
  onError: ErrorPolicy | undefined;
  drain: boolean;
  metricsPort: number | undefined;
  metricsHost: string;
  clientId: string;
  statusInterval: number | undefined;
  security: KafkaSecurity;
  workers: number;
  /** With workers > 1: the arguments of each worker (no --workers, no metrics server). */
  workerArgs: string[];
}

const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Runs the CLI and resolves with the exit code: 0 stopped or drained, 1 failed, 2 bad usage, 130
 * a second signal. Never calls `process.exit` (the launcher does, with this code).
 *
 * @example
 * const code = await main(["run", "p.ts", "--brokers", "127.0.0.1:9092", "--group", "g", "--drain"], io);
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    (command === undefined ? io.stderr : io.stdout).write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "proxy") {
    // Loaded here: `run` and --help need neither the proxy nor hono.
    const { proxyCommand } = await import("./rest-proxy/command.js");
    return proxyCommand(rest, io);
  }
  if (command !== "run") return usageError(io, `unknown command "${command}"`, USAGE);
  if (rest.includes("-h") || rest.includes("--help")) {
    io.stdout.write(RUN_USAGE);
    return 0;
  }
  let cmd: RunCommand;
  try {
    cmd = parseRun(rest, { env: io.env ?? process.env, cwd: io.cwd ?? process.cwd() });
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, undefined);
    throw e;
  }
  if (cmd.workers > 1) {
    const signals = signalLatch(io);
    try {
      return await runWorkers(
        {
          count: cmd.workers,
          // The launcher (bin/rivulet.mjs): workers are forked from it, so main() called in
          // another program cannot run --workers.
          entry: process.argv[1] ?? "",
          args: cmd.workerArgs,
          group: cmd.group,
          ...(cmd.metricsPort === undefined
            ? {}
            : { metrics: { port: cmd.metricsPort, host: cmd.metricsHost } }),
          ...(cmd.statusInterval === undefined ? {} : { statusInterval: cmd.statusInterval }),
          checkpoints: cmd.stateDir !== undefined || cmd.kafkaState,
          ...(io.env === undefined ? {} : { env: io.env }),
        },
        io,
        signals,
      );
    } finally {
      signals.dispose();
    }
  }
  return runCommand(cmd, io, workerChannel(io.env ?? process.env));
}

function usageError(io: CliIo, message: string, usage: string | undefined): number {
  io.stderr.write(`rivulet: ${message}\n`);
  io.stderr.write(usage ?? `Run "rivulet run --help" for usage.\n`);
  return 2;
}

/** Parses and validates the arguments of `rivulet run` (throws UsageError). */
function parseRun(args: readonly string[], where: { env: NodeJS.ProcessEnv; cwd: string }): RunCommand {
  let parsed: ReturnType<typeof parseRunArgs>;
  try {
    parsed = parseRunArgs(args);
  } catch (e) {
    // node:util's messages are good ("Unknown option '--x'"), minus its advice about "--".
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const { values: v, positionals, tokens } = parsed;
  const [module, exportName, ...extra] = positionals;
  if (module === undefined)
    throw new UsageError("missing the pipeline module: rivulet run <module> [export]");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (v.brokers === undefined) throw new UsageError("--brokers host:port[,host:port] is required");
  const brokers = v.brokers
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (brokers.length === 0) throw new UsageError("--brokers needs at least one host:port");
  for (const b of brokers) hostPort(b);
  if (v.group === undefined || v.group.trim() === "") throw new UsageError("--group <id> is required");
  const guarantee = v.guarantee ?? "exactly-once";
  if (guarantee !== "exactly-once" && guarantee !== "at-least-once")
    throw new UsageError(`--guarantee must be exactly-once or at-least-once, got "${guarantee}"`);
  const producer = v.producer;
  if (producer !== undefined && producer !== "kafkajs" && producer !== "platformatic")
    throw new UsageError(`--producer must be kafkajs or platformatic, got "${producer}"`);
  const onError = v["on-error"];
  if (onError !== undefined && onError !== "fail" && onError !== "dead-letter")
    throw new UsageError(`--on-error must be fail or dead-letter, got "${onError}"`);
  const dlq = v["dead-letter-topic"];
  const dlqProblem = dlq === undefined ? undefined : topicNameProblem(dlq);
  if (dlqProblem) throw new UsageError(`--dead-letter-topic: ${dlqProblem}`);
  if (v["state-dir"] === "") throw new UsageError("--state-dir needs a directory");
  const stateKind = v.state;
  if (stateKind !== undefined && stateKind !== "kafka" && stateKind !== "none")
    throw new UsageError(`--state must be kafka or none, got "${stateKind}"`);
  if (stateKind === "kafka" && v["state-dir"] !== undefined)
    throw new UsageError("--state kafka and --state-dir exclude each other");
  const tasks = v.tasks;
  if (tasks !== undefined && tasks !== "shared" && tasks !== "per-partition")
    throw new UsageError(`--tasks must be shared or per-partition, got "${tasks}"`);
  if (v["client-id"] === "") throw new UsageError("--client-id must not be empty");
  const security = kafkaSecurity(v, where);
  const workers =
    v.workers === "auto" ? availableParallelism() : (integer("--workers", v.workers, 1, 1_024) ?? 1);
  if (workers > 1 && tasks === "shared")
    throw new UsageError(
      "--workers needs per-partition tasks: the workers' outputs must not depend on how they split the partitions",
    );
  if (workers > 1 && v.drain)
    throw new UsageError(
      "--drain runs in one process: each worker would drain only its share of the partitions",
    );
  // A worker gets the same arguments minus those the parent handles.
  const parentOnly = new Set(["workers", "metrics-port", "metrics-host", "status-interval"]);
  const skip = new Set<number>();
  for (const t of tokens)
    if (t.kind === "option" && parentOnly.has(t.name)) {
      skip.add(t.index);
      if (t.value !== undefined && !t.inlineValue) skip.add(t.index + 1);
    }
  const workerArgs = args.filter((_, i) => !skip.has(i));
  if (tasks === undefined) workerArgs.push("--tasks", "per-partition");
  return {
    module,
    exportName,
    brokers,
    group: v.group,
    guarantee,
    producer,
    stateDir: v["state-dir"],
    kafkaState: stateKind === "kafka",
    tasks,
    checkpointInterval: integer("--checkpoint-interval", v["checkpoint-interval"], 0, 2 ** 31),
    deadLetterTopic: dlq,
    onError,
    drain: v.drain ?? false,
    metricsPort: integer("--metrics-port", v["metrics-port"], 0, 65_535),
    metricsHost: v["metrics-host"] ?? "127.0.0.1",
    clientId: v["client-id"] ?? "rivulet",
    statusInterval: integer("--status-interval", v["status-interval"], 0, 2 ** 31),
    security,
    workers,
    workerArgs,
  };
}

function parseRunArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    tokens: true,
    options: {
      brokers: { type: "string" },
      group: { type: "string" },
      guarantee: { type: "string" },
      producer: { type: "string" },
      "state-dir": { type: "string" },
      state: { type: "string" },
      tasks: { type: "string" },
      "checkpoint-interval": { type: "string" },
      "dead-letter-topic": { type: "string" },
      "on-error": { type: "string" },
      drain: { type: "boolean" },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      "client-id": { type: "string" },
      "status-interval": { type: "string" },
      workers: { type: "string" },
      ...KAFKA_SECURITY_OPTIONS,
    },
  });
}

function integer(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function hostPort(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(address);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535)
    throw new UsageError(`--brokers: "${address}" is not host:port (e.g. 127.0.0.1:9092)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

async function runCommand(cmd: RunCommand, io: CliIo, worker: WorkerChannel | undefined): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const out = new StatusWriter(io);
  // Signals are caught from here on, so one during start-up also ends cleanly. A worker of
  // --workers takes them from its parent.
  const signals = signalLatch(worker === undefined ? io : { ...io, onSignal: (h) => worker.onSignal(h) });
  try {
    let chosen: { pipeline: Pipeline; name: string };
    try {
      chosen = await loadPipeline(resolvePath(cwd, cmd.module), cmd.module, cmd.exportName);
    } catch (e) {
      if (e instanceof UsageError) return usageError(io, e.message, undefined);
      out.say(`rivulet: ${errorText(e)}`);
      return 1;
    }

    for (const warning of cmd.security.warnings) out.say(`rivulet: warning: ${warning}`);
    const reachable = await firstReachable(cmd.brokers, CONNECT_TIMEOUT_MS);
    if (reachable !== true) {
      out.say(`rivulet: cannot reach Kafka at ${reachable}`);
      return 1;
    }
    const { ssl } = cmd.security.config;
    if (ssl !== undefined) {
      const { tlsProblem } = await import("./tls-preflight.js");
      const problem = await tlsProblem(cmd.brokers, ssl);
      if (problem !== undefined) {
        out.say(`rivulet: ${problem}`);
        return 1;
      }
    }
    // Loaded here, not at start-up: --help and usage errors need no Kafka client.
    const { KafkaBroker } = await import("./kafka-broker.js");
    const broker: KafkaLikeBroker = new KafkaBroker({
      brokers: cmd.brokers,
      clientId: cmd.clientId,
      guarantee: cmd.guarantee,
      ...(cmd.producer === undefined ? {} : { producer: cmd.producer }),
      ...cmd.security.config,
    });
    let closeState: (() => Promise<void>) | undefined;
    try {
      const options: RunOptions = { broker, group: cmd.group };
      if (cmd.stateDir !== undefined) options.state = new FileStateStore(resolvePath(cwd, cmd.stateDir));
      if (cmd.kafkaState) {
        const { KafkaChangelogStore } = await import("./changelog-store.js");
        const store = new KafkaChangelogStore({
          brokers: cmd.brokers,
          clientId: `${cmd.clientId}-state`,
          ...cmd.security.config,
        });
        options.state = store;
        closeState = () => store.close();
      }
      if (cmd.tasks !== undefined) options.tasks = cmd.tasks;
      if (cmd.checkpointInterval !== undefined) options.checkpointInterval = cmd.checkpointInterval;
      if (cmd.deadLetterTopic !== undefined) options.deadLetterTopic = cmd.deadLetterTopic;
      if (cmd.onError !== undefined) options.onError = cmd.onError;

      const starting = run(chosen.pipeline, options);
      const started = await Promise.race([
        starting.then((job) => ({ job })),
        signals.first.then((signal) => ({ signal })),
        sleep(START_TIMEOUT_MS).then(() => ({ timeout: true as const })),
      ]);
      // Given up on: a job that starts after all must not run on unseen.
      if (!("job" in started)) void starting.then((job) => job.stop()).catch(() => {});
      if ("timeout" in started) {
        out.say(
          `rivulet: the job did not start within ${START_TIMEOUT_MS / 1000} s (Kafka at ${cmd.brokers.join(", ")} answers, but not as a working Kafka cluster?)`,
        );
        return 1;
      }
      if ("signal" in started) {
        out.say(`rivulet: ${started.signal} during start-up: exiting`);
        return 0;
      }
      const { job } = started;
      out.say(
        `rivulet: running ${cmd.module} ${chosen.name} as group "${cmd.group}" on ${cmd.brokers.join(",")}${
          cmd.security.summary === "" ? "" : ` with ${cmd.security.summary}`
        } (${cmd.guarantee}; state: ${
          cmd.kafkaState
            ? `changelog topic ${cmd.group}-changelog`
            : cmd.stateDir === undefined
              ? "none, in memory only"
              : resolvePath(cwd, cmd.stateDir)
        }; tasks: ${job.tasks})${cmd.drain ? "; draining" : ""}`,
      );
      let metrics: MetricsServer | undefined;
      try {
        if (cmd.metricsPort !== undefined) {
          metrics = await serveMetrics(() => job.metrics(), {
            port: cmd.metricsPort,
            host: cmd.metricsHost,
            labels: { group: cmd.group },
          });
          out.say(`rivulet: metrics at ${metrics.url}`);
        }
        return await supervise(job, cmd, out, signals, worker);
      } finally {
        // Stopped, drained or failed already, this is a no-op; after a second signal, no waiting.
        await Promise.race([job.stop().catch(() => {}), signals.second]);
        await metrics?.close();
      }
    } catch (e) {
      out.say(`rivulet: ${errorText(e)}`);
      return 1;
    } finally {
      const closing = Promise.all([broker.close(), closeState?.()]);
      const closed = await Promise.race([
        closing.then(
          () => true,
          () => true,
        ),
        sleep(CLOSE_TIMEOUT_MS).then(() => false),
        signals.second.then(() => true),
      ]);
      if (!closed) out.say("rivulet: closing the Kafka connections timed out");
    }
  } finally {
    out.end();
    signals.dispose();
  }
}

/** Runs the job until a signal (stop), the end of a drain, or a failure; returns the exit code. */
async function supervise(
  job: Job,
  cmd: RunCommand,
  out: StatusWriter,
  signals: SignalLatch,
  worker: WorkerChannel | undefined,
): Promise<number> {
  const status = new StatusLine(
    () => job.metrics(),
    Date.now(),
    cmd.stateDir !== undefined || cmd.kafkaState,
  );
  // A worker reports its metrics to the parent, which shows the one status line.
  const period = worker?.reportEveryMs ?? cmd.statusInterval ?? (out.tty ? 1_000 : 5_000);
  const tick =
    worker === undefined ? () => out.status(status.line()) : () => void worker.report(job.metrics());
  const timer = period > 0 ? setInterval(tick, period) : undefined;
  timer?.unref();
  try {
    if (cmd.drain) void job.drain().catch(() => {}); // the outcome arrives through job.done
    const outcome = await Promise.race([
      job.done.then(
        () => ({ kind: "done" as const }),
        (e: unknown) => ({ kind: "failed" as const, error: e }),
      ),
      signals.first.then((signal) => ({ kind: "signal" as const, signal })),
    ]);
    if (outcome.kind === "failed") {
      out.say(`rivulet: the job failed: ${errorText(outcome.error)}`);
      return 1;
    }
    if (outcome.kind === "signal") {
      out.say(`rivulet: ${outcome.signal}: stopping (committing the current batch)...`);
      const stopped = await Promise.race([
        job.stop().then(
          () => ({ kind: "stopped" as const }),
          (e: unknown) => ({ kind: "failed" as const, error: e }),
        ),
        signals.second.then((signal) => ({ kind: "forced" as const, signal })),
      ]);
      if (stopped.kind === "forced") {
        out.say(`rivulet: ${stopped.signal} again: exiting without waiting`);
        return 130;
      }
      if (stopped.kind === "failed") {
        out.say(`rivulet: stopping failed: ${errorText(stopped.error)}`);
        return 1;
      }
    }
    if (worker === undefined) out.status(status.line(), true);
    out.say(`rivulet: ${outcome.kind === "signal" ? "stopped" : "drained"}. ${accounting(job.metrics())}`);
    return 0;
  } finally {
    if (timer) clearInterval(timer);
    await worker?.report(job.metrics()); // the parent's final accounting
  }
}

/** Loads the module and picks the pipeline (UsageError when the choice is wrong, exit 2). */
async function loadPipeline(
  file: string,
  module: string,
  exportName: string | undefined,
): Promise<{ pipeline: Pipeline; name: string }> {
  if (!existsSync(file)) throw new UsageError(`pipeline module not found: ${file}`);
  let ns: Record<string, unknown>;
  try {
    ns = await importModule(file);
  } catch (e) {
    throw new RivuletError("INVALID_ARGUMENT", `could not load ${module}: ${errorText(e)}`, { cause: e });
  }
  const exports = new Map(Object.entries(ns));
  // A module compiled to CommonJS shows its exports as the default export's properties.
  const def = ns.default;
  if (typeof def === "object" && def !== null && !isPipelineLike(def) && !isStreamLike(def))
    for (const [k, v] of Object.entries(def)) if (!exports.has(k)) exports.set(k, v);
  const list = () =>
    exports.size === 0 ? "none" : [...exports].map(([k, v]) => `${k} (${kindOf(v)})`).join(", ");
  if (exportName !== undefined) {
    if (!exports.has(exportName))
      throw new UsageError(`${module} has no export "${exportName}"; its exports: ${list()}`);
    return asPipeline(exports.get(exportName), exportName, module);
  }
  if (isPipelineLike(def)) return asPipeline(def, "default", module);
  const pipelines = [...exports.keys()].filter((k) => k !== "default" && isPipelineLike(exports.get(k)));
  if (pipelines.length === 1) return asPipeline(exports.get(pipelines[0]!), pipelines[0]!, module);
  if (pipelines.length === 0)
    throw new UsageError(
      `${module} exports no pipeline (a stream ending in .to(topic), or Pipeline.all(...)); its exports: ${list()}`,
    );
  throw new UsageError(
    `${module} exports several pipelines (${pipelines.join(", ")}): name one, e.g. rivulet run ${module} ${pipelines[0]} ...`,
  );
}

/** Imports a pipeline module; TypeScript goes through tsx, JavaScript needs nothing more. */
async function importModule(file: string): Promise<Record<string, unknown>> {
  if (/\.(?:[cm]?ts|tsx)$/.test(file)) await typeScriptLoader();
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Registers tsx's loader once, on the first TypeScript module. tsx is an optional peer dependency:
 * the built CLI needs it only for TypeScript. Running from sources, a loader is there already
 * (it loaded this very file), with the repo's tsconfig `paths`.
 */
function typeScriptLoader(): Promise<void> {
  tsxRegistered ??= (async () => {
    if (/\.[cm]?ts$/.test(new URL(import.meta.url).pathname)) return;
    let tsx: typeof import("tsx/esm/api");
    try {
      tsx = await import("tsx/esm/api");
    } catch (e) {
      // Only tsx itself missing means "install it"; a broken install keeps its own error.
      if ((e as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND" || !/["']tsx["']/.test(String(e)))
        throw e;
      throw new RivuletError(
        "INVALID_ARGUMENT",
        "install tsx to load TypeScript pipeline modules (npm install tsx), or compile the module to JavaScript",
      );
    }
    tsx.register(); // reads the tsconfig of the working directory (or TSX_TSCONFIG_PATH)
  })();
  return tsxRegistered;
}

function asPipeline(value: unknown, name: string, module: string): { pipeline: Pipeline; name: string } {
  if (value instanceof Pipeline) return { pipeline: value, name };
  if (isPipelineLike(value))
    // compile() recognises pipelines by class: one built with another copy of rivulet cannot run here.
    throw new RivuletError(
      "INVALID_ARGUMENT",
      `export "${name}" of ${module} was built with another copy of rivulet than this CLI's; import "rivulet" from the installation that runs the CLI`,
    );
  if (isStreamLike(value))
    throw new UsageError(`export "${name}" of ${module} is a stream, not a pipeline: end it with .to(topic)`);
  throw new UsageError(`export "${name}" of ${module} is not a pipeline but ${kindOf(value)}`);
}

function isPipelineLike(v: unknown): boolean {
  return (
    v instanceof Pipeline ||
    (typeof v === "object" && v !== null && v.constructor?.name === "Pipeline" && "sinks" in v)
  );
}

function isStreamLike(v: unknown): boolean {
  return typeof v === "object" && v !== null && typeof (v as { to?: unknown }).to === "function";
}

function kindOf(v: unknown): string {
  if (isPipelineLike(v)) return "pipeline";
  if (isStreamLike(v)) return "stream";
  if (v === null) return "null";
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`.replace(/^a ([AEIOU])/, "an $1");
  return typeof v === "function" ? "a function" : `a ${typeof v}`;
}

interface SignalLatch {
  first: Promise<string>;
  second: Promise<string>;
  dispose(): void;
}

function signalLatch(io: CliIo): SignalLatch {
  let n = 0;
  let first!: (s: string) => void;
  let second!: (s: string) => void;
  const latch = {
    first: new Promise<string>((r) => (first = r)),
    second: new Promise<string>((r) => (second = r)),
    dispose: () => {},
  };
  latch.dispose = (io.onSignal ?? processSignals)((signal) => {
    if (n++ === 0) first(signal);
    else second(signal);
  });
  return latch;
}

function processSignals(handler: (signal: string) => void): () => void {
  const on = (signal: NodeJS.Signals) => handler(signal);
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
}

/** Resolves true when one address accepts a TCP connection, else with the reasons. */
async function firstReachable(addresses: readonly string[], timeoutMs: number): Promise<true | string> {
  const tries = addresses.map(
    (a) =>
      new Promise<string | true>((resolve) => {
        const { host, port } = hostPort(a);
        const socket = connect({ host, port });
        const done = (result: string | true) => {
          socket.destroy();
          clearTimeout(timer);
          resolve(result);
        };
        const timer = setTimeout(() => done(`${a} (no answer within ${timeoutMs / 1000} s)`), timeoutMs);
        socket.once("connect", () => done(true));
        socket.once("error", (e: NodeJS.ErrnoException) => done(`${a} (${e.code ?? e.message})`));
      }),
  );
  const results = await Promise.all(tries);
  return results.includes(true) ? true : results.join(", ");
}

function errorText(e: unknown): string {
  if (isRivuletError(e) && e.cause !== undefined) {
    const cause = isRivuletError(e.cause) ? e.cause.message : describeError(e.cause);
    return e.message.includes(cause) ? e.message : `${e.message} (${cause})`;
  }
  if (isRivuletError(e)) return e.message;
  return describeError(e);
}

const sleep = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    t.unref();
  });

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}
