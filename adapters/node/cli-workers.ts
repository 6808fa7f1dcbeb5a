/**
 * `rivulet run --workers N`: N child processes run the same pipeline in one consumer group with
 * per-partition tasks (so their output does not depend on how the group splits the partitions),
 * under one parent that shows one status line and serves one /metrics for all of them.
 *
 * The parent forks the CLI's own entry with {@link WORKER_ENV} set. A child reports its job's
 * metrics over IPC and takes its stop signals from the parent only: a terminal's Ctrl-C reaches
 * the whole process group, and a child that also counted the forwarded signal would take it for
 * a second one and exit without committing. A child whose parent goes away stops cleanly.
 *
 * A child that fails (or exits by itself) is not restarted: the parent stops the others and exits
 * 1, the child's error being in its own output (prefixed `[worker i]`). Restarting in place would
 * hide a pipeline that fails on every start; a supervisor (systemd, Kubernetes) restarts the whole.
 *
 * @example
 * // rivulet run pipelines/clicks.ts --brokers 127.0.0.1:9092 --group clicks --workers 4
 * const code = await runWorkers({ count: 4, entry: process.argv[1]!, args, group: "clicks" }, io, signals);
 *
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";
import { type JobMetrics, type MetricLabels, prometheusText } from "../../core/index.js";
import { accounting, type ConsoleIo, StatusLine, StatusWriter } from "./cli-status.js";
import { type MetricsServer, serveMetricsText } from "./metrics.js";

/** Set in a worker child's environment to its index (0-based). */
export const WORKER_ENV = "RIVULET_WORKER_INDEX";

/** How often a child reports its metrics to the parent. */
const REPORT_INTERVAL_MS = 500;

/** Child to parent. */
type WorkerMessage = { kind: "metrics"; metrics: JobMetrics };
/** Parent to child. */
type ParentMessage = { kind: "signal"; signal: string };

/** What a worker child gets from its parent: its stop signals, and a way to report. */
export interface WorkerChannel {
  readonly index: number;
  readonly reportEveryMs: number;
  /** Signals forwarded by the parent (and "disconnect" when the parent is gone). */
  onSignal(handler: (signal: string) => void): () => void;
  /** Sends a metrics snapshot; resolves once it is handed to the channel. */
  report(metrics: JobMetrics): Promise<void>;
}

/**
 * In a child started by {@link runWorkers}: its channel to the parent; elsewhere undefined.
 *
 * @example
 * const channel = workerChannel(process.env);
 * channel?.report(job.metrics());
 */
export function workerChannel(env: NodeJS.ProcessEnv): WorkerChannel | undefined {
  const raw = env[WORKER_ENV];
  if (raw === undefined || typeof process.send !== "function") return undefined;
  return {
    index: Number(raw),
    reportEveryMs: REPORT_INTERVAL_MS,
    onSignal(handler) {
      const onMessage = (m: unknown) => {
        const msg = m as Partial<ParentMessage> | null;
        if (msg?.kind === "signal" && typeof msg.signal === "string") handler(msg.signal);
      };
      const onDisconnect = () => handler("parent gone");
      const ignore = () => {}; // the parent forwards it (see the module comment)
      process.on("message", onMessage);
      process.once("disconnect", onDisconnect);
      process.on("SIGINT", ignore);
      process.on("SIGTERM", ignore);
      return () => {
        process.off("message", onMessage);
        process.off("disconnect", onDisconnect);
        process.off("SIGINT", ignore);
        process.off("SIGTERM", ignore);
      };
    },
    report(metrics) {
      if (!process.connected || !process.send) return Promise.resolve();
      const msg: WorkerMessage = { kind: "metrics", metrics };
      return new Promise((resolve) => process.send!(msg, undefined, {}, () => resolve()));
    },
  };
}

/** What the parent runs. */
export interface WorkersPlan {
  count: number;
  /** The CLI's entry script, forked with `["run", ...args]`. */
  entry: string;
  /** Arguments of `rivulet run` for a child: no --workers, no metrics server, per-partition tasks. */
  args: string[];
  group: string;
  metrics?: { port: number; host: string };
  statusInterval?: number;
  /** Whether the job has a state store (the status line shows the checkpoint age). */
  checkpoints: boolean;
  env?: NodeJS.ProcessEnv;
}

interface Signals {
  first: Promise<string>;
  second: Promise<string>;
}

interface Child {
  index: number;
  process: ChildProcess;
  metrics: JobMetrics | undefined;
  exited: Promise<{ index: number; code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
}

/**
 * Starts the children and supervises them until a signal (forwarded to each) or a failure of one
 * (the others are stopped). Resolves with the exit code: 0 all stopped cleanly, 1 a child failed,
 * 130 a second signal.
 */
export async function runWorkers(plan: WorkersPlan, io: ConsoleIo, signals: Signals): Promise<number> {
  const out = new StatusWriter(io);
  const children: Child[] = [];
  for (let index = 0; index < plan.count; index++) children.push(startChild(plan, index, out));
  const pids = children.map((c) => c.process.pid).join(", ");
  out.say(`rivulet: ${plan.count} workers in group "${plan.group}" (pids ${pids}), tasks per-partition`);
  const snapshots = () => children.flatMap((c) => (c.metrics === undefined ? [] : [c.metrics]));
  const combined = () => combineMetrics(snapshots());
  let server: MetricsServer | undefined;
  const status = new StatusLine(() => combined() ?? EMPTY, Date.now(), plan.checkpoints);
  const alive = () => children.filter((c) => !c.done).length;
  const line = () => `${status.line()} | workers ${alive()}/${plan.count}`;
  const period = plan.statusInterval ?? (out.tty ? 1_000 : 5_000);
  const timer = period > 0 ? setInterval(() => out.status(line()), period) : undefined;
  timer?.unref();
  const stopAll = (signal: string) => {
    for (const c of children)
      if (!c.done && c.process.connected) c.process.send({ kind: "signal", signal } satisfies ParentMessage);
  };
  const allExited = Promise.all(children.map((c) => c.exited));
  try {
    if (plan.metrics !== undefined) {
      try {
        server = await serveMetricsText(
          () =>
            workersPrometheusText(
              children.map((c) => c.metrics),
              { group: plan.group },
            ),
          {
            port: plan.metrics.port,
            host: plan.metrics.host,
          },
        );
      } catch (e) {
        out.say(`rivulet: ${(e as Error).message}`);
        stopAll("SIGTERM");
        await allExited;
        return 1;
      }
      out.say(`rivulet: metrics at ${server.url}`);
    }
    const firstExit = Promise.race(children.map((c) => c.exited));
    const outcome = await Promise.race([
      firstExit.then((exit) => ({ kind: "exit" as const, exit })),
      signals.first.then((signal) => ({ kind: "signal" as const, signal })),
    ]);
    if (outcome.kind === "exit") {
      const { index, code, signal } = outcome.exit;
      const pid = children[index]!.process.pid;
      out.say(
        `rivulet: worker ${index} (pid ${pid}) ${signal === null ? `exited with code ${code}` : `was killed by ${signal}`}: stopping the others`,
      );
      stopAll("SIGTERM");
    } else {
      out.say(`rivulet: ${outcome.signal}: stopping ${alive()} workers (each commits its current batch)...`);
      stopAll(outcome.signal);
    }
    const ended = await Promise.race([
      allExited.then((exits) => ({ kind: "exited" as const, exits })),
      signals.second.then((signal) => ({ kind: "forced" as const, signal })),
    ]);
    if (ended.kind === "forced") {
      out.say(`rivulet: ${ended.signal} again: the workers exit without waiting`);
      stopAll(ended.signal);
      await allExited;
      return 130;
    }
    if (timer) clearInterval(timer);
    if (snapshots().length > 0) out.status(line(), true);
    const failed = ended.exits.filter((e) => e.code !== 0).map((e) => e.index);
    if (outcome.kind === "exit" || failed.length > 0) {
      out.say(`rivulet: failed (workers with a non-zero exit: ${failed.join(", ") || "none"})`);
      return 1;
    }
    const total = combined();
    out.say(`rivulet: stopped. ${total === undefined ? "no worker reported" : accounting(total)}`);
    return 0;
  } finally {
    if (timer) clearInterval(timer);
    await server?.close();
    out.end();
  }
}

function startChild(plan: WorkersPlan, index: number, out: StatusWriter): Child {
  const child = fork(plan.entry, ["run", ...plan.args], {
    env: { ...(plan.env ?? process.env), [WORKER_ENV]: String(index) },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced", // JobMetrics holds -Infinity watermarks, which JSON cannot
  });
  const c: Child = {
    index,
    process: child,
    metrics: undefined,
    done: false,
    exited: new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        c.done = true;
        resolve({ index, code, signal });
      }),
    ),
  };
  child.on("message", (m: unknown) => {
    const msg = m as Partial<WorkerMessage> | null;
    if (msg?.kind === "metrics" && msg.metrics !== undefined) c.metrics = msg.metrics;
  });
  for (const stream of [child.stdout, child.stderr])
    if (stream) createInterface({ input: stream }).on("line", (text) => out.say(`[worker ${index}] ${text}`));
  return c;
}

const EMPTY: JobMetrics = {
  status: "starting",
  guarantee: "exactly-once",
  protocol: "in-commit",
  records: { in: 0, emitted: 0, filtered: 0, aggregated: 0, late: 0, deadLettered: 0 },
  windowsFired: 0,
  produced: {},
  watermark: Number.NEGATIVE_INFINITY,
  operators: [],
  partitions: [],
  checkpoints: { count: 0, lastId: undefined, lastAt: undefined, lastDurationMs: undefined },
};

/**
 * The metrics of several workers as one job's: counters summed, partitions and operators listed
 * from each, the watermark the smallest of the workers that hold partitions.
 *
 * @example
 * const total = combineMetrics([a.metrics(), b.metrics()]);
 */
export function combineMetrics(list: readonly JobMetrics[]): JobMetrics | undefined {
  const [first] = list;
  if (first === undefined) return undefined;
  const records = { ...EMPTY.records };
  const produced: Record<string, number> = {};
  const checkpoints = { ...EMPTY.checkpoints };
  for (const m of list) {
    for (const k of Object.keys(records) as (keyof typeof records)[]) records[k] += m.records[k];
    for (const [t, n] of Object.entries(m.produced)) produced[t] = (produced[t] ?? 0) + n;
    checkpoints.count += m.checkpoints.count;
    if (m.checkpoints.lastAt !== undefined && (checkpoints.lastAt ?? -1) < m.checkpoints.lastAt)
      Object.assign(checkpoints, { ...m.checkpoints, count: checkpoints.count });
  }
  const holding = list.filter((m) => m.partitions.length > 0);
  const statuses = new Set(list.map((m) => m.status));
  return {
    status: statuses.has("failed")
      ? "failed"
      : statuses.size === 1
        ? first.status
        : statuses.has("running")
          ? "running"
          : first.status,
    guarantee: first.guarantee,
    protocol: first.protocol,
    records,
    windowsFired: list.reduce((s, m) => s + m.windowsFired, 0),
    produced,
    watermark: Math.min(...(holding.length > 0 ? holding : list).map((m) => m.watermark)),
    operators: list.flatMap((m) => m.operators),
    partitions: list.flatMap((m) => m.partitions),
    checkpoints,
  };
}

/**
 * Prometheus text for several workers: the job-wide families summed over them, the per-partition
 * gauges from each worker with a `worker` label (a partition moving between workers shows up
 * under both until the next report).
 *
 * @example
 * res.end(workersPrometheusText([a.metrics(), b.metrics()], { group: "clicks" }));
 */
export function workersPrometheusText(
  list: readonly (JobMetrics | undefined)[],
  labels: MetricLabels,
): string {
  const reported = list.flatMap((m, worker) => (m === undefined ? [] : [{ m, worker }]));
  const total = combineMetrics(reported.map((r) => r.m));
  if (total === undefined) throw new Error("no worker has reported yet");
  const perPartition = new Map<string, string[]>();
  for (const { m, worker } of reported)
    for (const line of prometheusText(m, { ...labels, worker: String(worker) }).split("\n")) {
      const name = /^(rivulet_partition_\w+)\{/.exec(line)?.[1];
      if (name !== undefined) perPartition.set(name, [...(perPartition.get(name) ?? []), line]);
    }
  return prometheusText({ ...total, partitions: [] }, labels).replace(
    /^# TYPE (rivulet_partition_\w+) gauge$/gm,
    (header, name: string) => [header, ...(perPartition.get(name) ?? [])].join("\n"),
  );
}
