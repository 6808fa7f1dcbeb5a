/**
 * The benchmark: Nexmark q0-q8 on one core, as ratios against baselines measured in the same run,
 * then q1 end to end through a real Kafka broker against a raw KafkaJS loop (bench/kafka.ts).
 *
 *   npx tsx bench/run.ts            # 10M events per query (5M for q4, q6); Kafka: 1M events. ~7 minutes
 *   npx tsx bench/run.ts --quick    # 1M events per query (500K for q4, q6); Kafka: 200K. ~1.5 minutes
 *   options: --events=N  --queries=q0,q5  --runs=N (engine runs, best kept, default 2)  --no-pin
 *            --cpu=K  --out=bench/results  --same-process (every query in one process, as before)
 *            --no-kafka (skip the Kafka part)  --kafka-events=N  --kafka-rounds=N (best of, default 2)
 *            --no-edge (skip the edge part)  --edge-events=N  --edge-rounds=N (best of, default 2)
 *            --no-browser (skip the browser part)
 *
 * It re-runs itself under `taskset -c K` (one core for everything, V8's GC threads included) with
 * --expose-gc (heap measurements, a clean heap before each timed run) and a large heap. Each path
 * of each query (engine with generation, engine over events made up front, hand-written loop,
 * RxJS, engine) runs in a fresh child process, as JMH forks a JVM per benchmark: no call site sees another query's functions and no
 * run pays for the heap another one left (whichever big run came second in a shared process was
 * slower). After those, one more child process (pinned, same heap flags) runs every query's engine
 * path one after another, as a user running several pipelines in one process would: the
 * `same_process` figures, beside the per-process ones (skipped with --same-process, where every
 * figure is already measured in one process). Memory figures come from fresh child processes, and
 * so does the Kafka part (pinned to the same core; the broker it starts is moved to the other
 * cores). If Java or the broker cannot start, the "kafka" section records null figures and the
 * reason. Then the edge part (bench/edge.ts), in a child process the same way: q1 through Rivulet's
 * Kafka REST proxy (RestProxyBroker against a raw loop over the same REST calls), the proxy's
 * produce and fetch against KafkaJS, and the added latency of a push through the example worker in
 * workerd; its own broker and proxy, null figures and the reason if they cannot start. Then the
 * browser part (bench/browser.ts, in real Chromium, not pinned: the page and its worker are two
 * threads): clicks-per-minute fed from the page through Comlink against the same pipeline on data
 * already in the worker, in memory and on IndexedDB, and a checkpoint of 100K keys. Writes
 * bench/results/latest.json and chart.svg; bench/README.md says what each number means.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { count, type Job, Pipeline, run, tumbling } from "../core/index.js";
import { generateNexmark, MemoryBroker, type NexmarkConfig, type NexmarkEvent } from "../core/testing.js";
import type { BrowserBenchResult } from "./browser.js";
import type { EdgeBenchResult, EdgeRun } from "./edge.js";
import {
  buildFlink,
  checkGenerator,
  FLINK_VERSION,
  type FlinkQueryRun,
  type FlinkSource,
  flinkQuery,
  type GeneratorCheck,
} from "./flink.js";
import { type KafkaBenchResult, type KafkaRun, kafkaBench } from "./kafka.js";
import { NexmarkGeneratorBroker, PreloadedNexmarkBroker } from "./nexmark/generator-broker.js";
import { HANDWRITTEN, loadRxQueries, type RxQueries } from "./nexmark/handwritten.js";
import { nexmarkSource, QUERIES, QUERY_NAMES, type QueryName } from "./nexmark/queries.js";
import { cpuMs, settle } from "./settle.js";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const CHILD_ENV = "RIVULET_BENCH_CHILD";
const HEAP_MB = 16_384;

/** The generator's defaults (Beam's: 10,000 events per second of event time), seed 42. */
const CONFIG: NexmarkConfig = { seed: 42 };
const INPUT = "nexmark";
const CHUNK = 100_000;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const now = () => performance.now();
const cpuNow = cpuMs;

// ---------------------------------------------------------------------------------------------
// Re-exec: pinned, --expose-gc, and a big heap for the 10M-event arrays (not for the memory
// measurements: a 16 GB limit makes V8 grow the heap lazily, which inflates RSS).

function reexec(
  extra: string[],
  pin: boolean,
  bigHeap = true,
  nodeFlags: readonly string[] = [],
): ReturnType<typeof spawnSync> {
  const node = [
    ...process.execArgv.filter((a) => a !== "--expose-gc" && !a.startsWith("--max-old-space-size")),
    "--expose-gc",
    ...(bigHeap ? [`--max-old-space-size=${HEAP_MB}`] : []),
    ...nodeFlags,
    process.argv[1]!,
    ...argv,
    ...extra,
  ];
  const cpu = option("cpu") ?? "0";
  const usePin = pin && process.platform === "linux" && existsSync("/usr/bin/taskset");
  const [cmd, args] = usePin
    ? ["/usr/bin/taskset", ["-c", cpu, process.execPath, ...node]]
    : [process.execPath, node];
  return spawnSync(cmd, args, {
    stdio: extra.length ? ["ignore", "pipe", "inherit"] : "inherit",
    env: { ...process.env, [CHILD_ENV]: usePin ? `pinned:${cpu}` : "unpinned" },
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
}

// ---------------------------------------------------------------------------------------------
// Measurements.

interface Sample {
  eps: number;
  ms: number;
  /** Events per second of this process's CPU time (user + system) over the same interval. */
  cpuEps: number;
  /** Engine runs: events per second of the whole run, the job's own warm-up included. */
  whole?: number;
  outputs: number;
}

function best(samples: readonly Sample[]): Sample {
  return samples.reduce((a, b) => (b.eps > a.eps ? b : a));
}

async function newBroker(): Promise<MemoryBroker> {
  const broker = new MemoryBroker();
  await broker.createTopic(INPUT, { partitions: 1 });
  return broker;
}

function produce(broker: MemoryBroker, events: readonly NexmarkEvent[], from = 0, to = events.length): void {
  for (let i = from; i < to; i += CHUNK) {
    const records = [];
    for (let j = i; j < Math.min(i + CHUNK, to); j++) {
      const e = events[j]!;
      records.push({ value: e, timestamp: e.timestamp });
    }
    broker.produceSync(INPUT, records);
  }
}

const outputs = (broker: MemoryBroker, topic: string) => broker.endOffsets(topic).reduce((a, b) => a + b, 0);

/** The pipeline over events already in the topic: times `run` + `drain`. */
/**
 * Events a job processes before its clock starts: its own JIT warm-up (each job has new closures,
 * so the optimized code of the previous one does not carry over), as the loops' warm-up call
 * leaves theirs out. The run as a whole is kept too (`whole`).
 */
const JOB_WARM_UP = 200_000;

/** Steps a job through its first JOB_WARM_UP events, then times the rest of the run and `drain`. */
async function timedDrain(job: Job, n: number): Promise<Omit<Sample, "outputs">> {
  const start = now();
  let done = 0;
  while (done < Math.min(JOB_WARM_UP, n / 2)) done += await job.step();
  const t0 = now();
  const c0 = cpuNow();
  await job.drain();
  const ms = now() - t0;
  return {
    eps: ((n - done) / ms) * 1000,
    ms,
    cpuEps: ((n - done) / (cpuNow() - c0)) * 1000,
    whole: (n / (now() - start)) * 1000,
  };
}

async function engineRun(q: QueryName, events: readonly NexmarkEvent[], n: number): Promise<Sample> {
  const broker = await newBroker();
  produce(broker, events, 0, n);
  const output = `${q}-out`;
  const pipeline: Pipeline = QUERIES[q](INPUT, output);
  await settle();
  const job = await run(pipeline, { broker, manual: true });
  const timed = await timedDrain(job, n);
  const m = job.metrics().records;
  if (m.in !== n || m.late !== 0 || m.deadLettered !== 0)
    throw new Error(`${q}: read ${m.in} of ${n}, ${m.late} late, ${m.deadLettered} dead-lettered`);
  return { ...timed, outputs: outputs(broker, output) };
}

/**
 * Generation included, as Flink's Nexmark runs: events generated as the job polls and outputs
 * dropped (NexmarkGeneratorBroker), so nothing is stored and the heap stays small.
 */
async function engineWithGeneration(q: QueryName, n: number): Promise<Sample> {
  await settle();
  const broker = new NexmarkGeneratorBroker(INPUT, CONFIG, n);
  const output = `${q}-out`;
  const job = await run(QUERIES[q](INPUT, output), { broker, manual: true });
  const timed = await timedDrain(job, n);
  const m = job.metrics().records;
  if (m.in !== n || m.late !== 0 || m.deadLettered !== 0)
    throw new Error(`${q}: read ${m.in} of ${n}, ${m.late} late, ${m.deadLettered} dead-lettered`);
  return { ...timed, outputs: broker.written.get(output) ?? 0 };
}

/**
 * Without generation, as Flink's run over an array of events: the events made up front, each poll
 * a window of that array (PreloadedNexmarkBroker, no copy), outputs dropped as with generation.
 * The engine's own path and nothing else: no generator, no topic storing records at either end.
 */
async function enginePreloaded(q: QueryName, events: readonly NexmarkEvent[]): Promise<Sample> {
  const timestamps = new Float64Array(events.length);
  for (let i = 0; i < events.length; i++) timestamps[i] = events[i]!.timestamp;
  await settle();
  const broker = new PreloadedNexmarkBroker(INPUT, events, timestamps);
  const output = `${q}-out`;
  const job = await run(QUERIES[q](INPUT, output), { broker, manual: true });
  const n = events.length;
  const timed = await timedDrain(job, n);
  const m = job.metrics().records;
  if (m.in !== n || m.late !== 0 || m.deadLettered !== 0)
    throw new Error(`${q}: read ${m.in} of ${n}, ${m.late} late, ${m.deadLettered} dead-lettered`);
  return { ...timed, outputs: broker.written.get(output) ?? 0 };
}

function loopRun(
  fn: (events: readonly NexmarkEvent[]) => unknown[],
  events: readonly NexmarkEvent[],
): Sample {
  const t0 = now();
  const c0 = cpuNow();
  const out = fn(events);
  const ms = now() - t0;
  const cpuEps = (events.length / (cpuNow() - c0)) * 1000;
  return { eps: (events.length / ms) * 1000, ms, cpuEps, outputs: out.length };
}

// ---------------------------------------------------------------------------------------------
// Memory, each in a fresh process.

/** Window state per live key: a tumbling count over `keys` distinct keys that never fires. */
async function windowStateBytes(keys: number, kind: "number" | "string"): Promise<Record<string, number>> {
  const broker = new MemoryBroker();
  await broker.createTopic("keys", { partitions: 1 });
  // Objects with the key in a field: the key (a Smi, or a string already in the input) costs nothing extra.
  const values: { k: number | string }[] = [];
  for (let i = 0; i < keys; i++) values.push({ k: kind === "number" ? i : `key-${i}` });
  for (let i = 0; i < keys; i += CHUNK)
    broker.produceSync(
      "keys",
      values.slice(i, i + CHUNK).map((value) => ({ value, timestamp: 1_000 })),
    );
  const p = Pipeline.source<{ k: number | string }>("keys")
    .keyBy((v) => v.k)
    .window(tumbling(3_600_000))
    .aggregate(count())
    .to("counts");
  const job = await run(p, { broker, manual: true, maxBatch: 10_000 });
  await job.step(); // warm: consumer, first bucket
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  await job.flush();
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (job.metrics().records.aggregated !== keys) throw new Error("window state: not every key aggregated");
  return { engine: (after - before) / keys, plainMap: plainMapBytes(values) };
}

/** The same keys in a plain Map<key, count>, for scale (its own frame, so it is garbage after). */
function plainMapBytes(values: readonly { k: number | string }[]): number {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const plain = new Map<number | string, number>();
  for (const v of values) plain.set(v.k, 1);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (plain.size !== values.length) throw new Error("plain map: wrong size");
  return (after - before) / values.length;
}

/**
 * Peak RSS of a fresh process running q5 over `n` generated events (generator source, blackhole
 * sink: nothing stored), or, as the baseline, a pipeline that drops every event.
 */
async function peakRss(n: number, withQ5: boolean): Promise<Record<string, number>> {
  const broker = new NexmarkGeneratorBroker(INPUT, CONFIG, n);
  const pipeline = withQ5
    ? QUERIES.q5(INPUT, "q5-out")
    : nexmarkSource(INPUT)
        .filter(() => false)
        .to("nothing");
  const job = await run(pipeline, { broker, manual: true });
  await job.drain();
  if (job.metrics().records.in !== n) throw new Error("rss: not every event read");
  return { peakRss: peakRssBytes() };
}

/**
 * This process's peak RSS: VmHWM on Linux (getrusage's maxRSS can carry a high-water mark over
 * from whatever spawned the process), else maxRSS.
 */
function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}

function child(args: string[], bigHeap = false, nodeFlags: readonly string[] = []): unknown {
  const r = reexec(args, true, bigHeap, nodeFlags);
  if (r.status !== 0) throw new Error(`child ${args.join(" ")} failed (${r.status})`);
  return JSON.parse(String(r.stdout).trim().split("\n").pop()!);
}

/** Issue 4's Kafka targets: engine / raw KafkaJS loop. */
const KAFKA_TARGETS = { at_least_once: 0.8, exactly_once: 0.5 };

type KafkaFigures = "raw_kafkajs_eps" | "engine_at_least_once_eps" | "engine_exactly_once_eps";
type KafkaSection = Partial<Omit<KafkaBenchResult, KafkaFigures>> & {
  raw_kafkajs_eps: number | null;
  engine_at_least_once_eps: number | null;
  engine_exactly_once_eps: number | null;
  targets: typeof KAFKA_TARGETS;
  error?: string;
};

/**
 * The Kafka part (bench/kafka.ts) in a child process pinned like the rest (the broker it starts
 * goes to the other cores). Never throws: a failure (no Java, no broker, a failed check) is
 * recorded as null figures with the reason.
 */
function kafkaPart(quick: boolean): KafkaSection {
  const none = (error: string): KafkaSection => ({
    raw_kafkajs_eps: null,
    engine_at_least_once_eps: null,
    engine_exactly_once_eps: null,
    targets: KAFKA_TARGETS,
    error,
  });
  if (flag("no-kafka")) return none("skipped (--no-kafka)");
  const events = Number(option("kafka-events") ?? (quick ? 200_000 : 1_000_000));
  console.log(`kafka: q1 end to end over ${fmt(events)} events (a real broker; progress below)...`);
  const r = reexec(["--child=kafka", `--n=${events}`], !flag("no-pin"), false);
  const last = String(r.stdout ?? "")
    .trim()
    .split("\n")
    .pop();
  let out: { ok: KafkaBenchResult } | { error: string } | undefined;
  try {
    out = last ? JSON.parse(last) : undefined;
  } catch {}
  if (!out || r.status !== 0)
    return none(`the Kafka child process failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`})`);
  if ("error" in out) return none(out.error);
  return { ...out.ok, targets: KAFKA_TARGETS };
}

function kafkaTable(k: KafkaSection): string {
  if (k.raw_kafkajs_eps === null || k.runs === undefined) return `kafka: no figures: ${k.error}`;
  const { runs } = k;
  const rows: [string, KafkaRun, number | undefined, string][] = [
    ["raw KafkaJS loop (at-least-once)", runs.raw, undefined, ""],
    [
      "engine at-least-once",
      runs.at_least_once,
      k.engine_at_least_once_vs_raw,
      `>= ${KAFKA_TARGETS.at_least_once}`,
    ],
    [
      `engine exactly-once (checkpointInterval ${k.exactly_once_checkpoint_interval_ms} ms)`,
      runs.exactly_once,
      k.engine_exactly_once_vs_raw,
      `>= ${KAFKA_TARGETS.exactly_once}`,
    ],
    [
      "engine exactly-once, a transaction per poll",
      runs.exactly_once_per_poll,
      k.engine_exactly_once_per_poll_vs_raw,
      "",
    ],
    [
      'engine at-least-once, producer: "platformatic"',
      runs.platformatic_at_least_once,
      k.engine_platformatic_at_least_once_vs_raw,
      "",
    ],
    [
      'engine exactly-once (as above), producer: "platformatic"',
      runs.platformatic_exactly_once,
      k.engine_platformatic_exactly_once_vs_raw,
      "",
    ],
  ];
  const head = ["kafka: q1 end to end", "events/s", "engine/raw", "target", "seconds", "client CPU"];
  const cells = rows.map(([name, r, vs, target]) => [
    name,
    fmt(r.eps),
    vs === undefined ? "-" : fmtRatio(vs),
    target,
    (r.ms / 1000).toFixed(2),
    `${Math.round(r.client_cpu * 100)}%`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
    `(${fmt(k.events!)} events, ${k.partitions} partitions, ${fmt(k.expected_outputs!)} outputs checked per run; ${k.broker})`,
    ...(k.workers
      ? [
          `rivulet run --workers 1: ${fmt(k.workers.one_eps)}/s, --workers ${k.workers.n}: ${fmt(k.workers.n_eps)}/s (${fmtRatio(k.workers.scaling)}; unpinned, the broker on the same cores)`,
        ]
      : []),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Flink side by side (--flink): bench/flink.ts builds and runs the Maven project in bench/flink.

type FlinkSetup =
  | { classpath: string; maven_ms: number; generator_check: GeneratorCheck }
  | { error: string };

interface FlinkQueryFigures {
  events: number;
  /** Flink p=1 with generation: from the job's 200,001st event to the end of the sink's input. */
  flink_eps: number;
  /** From env.execute() to its return (the MiniCluster's start and the job's warm-up included). */
  flink_whole_run_eps: number;
  flink_outputs: number;
  /** Rivulet's engine_with_generation_eps of this run, and its outputs. */
  rivulet_with_generation_eps: number;
  rivulet_outputs: number;
  outputs_equal: boolean;
  rivulet_vs_flink: number | null;
  /**
   * Without generation on either side: Flink's source hands out events made up front (an array),
   * Rivulet's engine_preloaded_eps; timed the same way. Null when Flink's run failed.
   */
  flink_no_generation_eps: number | null;
  /** Each of Flink's timed jobs without generation (best of these is flink_no_generation_eps). */
  flink_no_generation_samples: number[];
  flink_no_generation_outputs: number | null;
  rivulet_no_generation_eps: number;
  rivulet_vs_flink_no_generation: number | null;
}

/** A query's two Flink runs: events generated as read, and made up front. */
type FlinkRuns = Record<FlinkSource, FlinkQueryRun | { error: string }>;

type FlinkSection =
  | {
      version: string;
      method: string;
      generator_check: GeneratorCheck;
      queries: Partial<Record<QueryName, FlinkQueryFigures>>;
      /** Per query, when its Flink run failed. */
      errors: Partial<Record<QueryName, string>>;
      outputs_equal: boolean;
      geomean_rivulet_vs_flink: number | null;
      geomean_rivulet_vs_flink_no_generation: number | null;
      kafka_q1:
        | {
            flink_at_least_once_eps: number;
            flink_exactly_once_eps: number;
            rivulet_at_least_once_eps: number;
            rivulet_exactly_once_eps: number;
            rivulet_at_least_once_vs_flink: number;
            rivulet_exactly_once_vs_flink: number;
            rivulet_platformatic_at_least_once_eps: number;
            rivulet_platformatic_exactly_once_eps: number;
            rivulet_platformatic_at_least_once_vs_flink: number;
            rivulet_platformatic_exactly_once_vs_flink: number;
          }
        | { error: string };
    }
  | { error: string };

/** Builds bench/flink and checks its generator against ours; fails (with the reason) on any difference. */
function flinkStart(): FlinkSetup {
  if (!flag("flink")) return { error: "not run (add --flink: npm run bench -- --flink)" };
  console.log("flink: building bench/flink (Maven, offline once ~/.m2 has it)...");
  const b = buildFlink();
  if ("error" in b) {
    console.log(`flink: ${b.error}`);
    return b;
  }
  const check = checkGenerator(b.classpath, CONFIG);
  if (!check.equal) {
    const d = check.first_difference;
    throw new Error(
      `flink: the Java generator differs from generateNexmark: ${d ? `event ${d.index}: ${d.ts} vs ${d.java}` : `checksum ${check.checksum_ts} vs ${check.checksum_java}`}`,
    );
  }
  console.log(
    `flink: built in ${(b.mavenMs / 1000).toFixed(1)} s; generators equal (first ${check.first_events} events' JSON, checksum over ${fmt(check.checksum_events)})`,
  );
  return { classpath: b.classpath, maven_ms: b.mavenMs, generator_check: check };
}

function flinkRun(classpath: string, q: QueryName, source: FlinkSource): FlinkQueryRun | { error: string } {
  try {
    const pin = flag("no-pin") ? undefined : (option("cpu") ?? "0");
    // Without generation, best of `runs` timed jobs, as Rivulet's preloaded path.
    const repeat = source === "array" ? engineRuns() : 1;
    return flinkQuery(classpath, q, eventsFor(q), CONFIG.seed ?? 0, pin, source, repeat);
  } catch (e) {
    return { error: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
  }
}

function flinkSection(
  setup: FlinkSetup,
  runs: Partial<Record<QueryName, FlinkRuns>>,
  results: Partial<Record<QueryName, QueryResult>>,
  kafka: KafkaSection,
): FlinkSection {
  if ("error" in setup) return { error: setup.error };
  const queries: Partial<Record<QueryName, FlinkQueryFigures>> = {};
  const errors: Partial<Record<QueryName, string>> = {};
  for (const [q, { generator: f, array: a }] of Object.entries(runs) as [QueryName, FlinkRuns][]) {
    if ("error" in a) errors[q] = `without generation: ${a.error}`;
    if ("error" in f) {
      errors[q] = f.error;
      continue;
    }
    const r = results[q]!;
    const pre = "error" in a ? null : a;
    queries[q] = {
      events: f.events,
      flink_eps: f.eps,
      flink_whole_run_eps: f.whole_eps,
      flink_outputs: f.outputs,
      rivulet_with_generation_eps: r.engine_with_generation_eps,
      rivulet_outputs: r.outputs,
      outputs_equal: f.outputs === r.outputs && (pre === null || pre.outputs === r.outputs),
      rivulet_vs_flink: ratio(r.engine_with_generation_eps, f.eps),
      flink_no_generation_eps: pre?.eps ?? null,
      flink_no_generation_samples: pre?.samples ?? [],
      flink_no_generation_outputs: pre?.outputs ?? null,
      rivulet_no_generation_eps: r.engine_preloaded_eps,
      rivulet_vs_flink_no_generation: pre ? ratio(r.engine_preloaded_eps, pre.eps) : null,
    };
  }
  const figures = Object.values(queries);
  const ratios = figures.map((f) => f.rivulet_vs_flink).filter((x): x is number => x !== null);
  const ratiosPre = figures
    .map((f) => f.rivulet_vs_flink_no_generation)
    .filter((x): x is number => x !== null);
  const kf = kafka.flink;
  return {
    version: FLINK_VERSION,
    method:
      "per query, Flink's DataStream job (bench/flink/src/main/java/rivulet/bench/Queries.java, the semantics of bench/nexmark/queries.ts) in a fresh JVM pinned to the same core as Rivulet's paths (taskset -c, every JVM thread), a local MiniCluster with parallelism 1 and object reuse on; a DataGeneratorSource over a Java port of generateNexmark (checked equal: generator_check) makes events as it is read, a discarding sink counts outputs; a warm-up job over 200K events first, then the timed job over the same number of events as Rivulet's, timed from its 200,001st event to the end of the sink's input (Rivulet's engine_with_generation_eps is timed the same way, and measured just before in this run). rivulet_vs_flink = Rivulet with generation / Flink with generation. Without generation (flink_no_generation_eps): another fresh JVM (8 GB heap) makes the query's events up front into an array, then a full GC, and the same source hands out the array's elements instead of generating them, timed the same way, the timed job `runs` times in that JVM (best kept, as Rivulet's); against Rivulet's engine_preloaded_eps (events made up front, each poll a window of that array, outputs dropped): rivulet_vs_flink_no_generation. Output counts must be equal (outputs_equal, both runs).",
    generator_check: setup.generator_check,
    queries,
    errors,
    outputs_equal: figures.every((f) => f.outputs_equal),
    geomean_rivulet_vs_flink: ratios.length ? geomean(ratios) : null,
    geomean_rivulet_vs_flink_no_generation: ratiosPre.length ? geomean(ratiosPre) : null,
    kafka_q1:
      kf === undefined
        ? { error: kafka.error ?? "the Kafka part ran without Flink" }
        : "error" in kf
          ? kf
          : {
              flink_at_least_once_eps: kf.flink_at_least_once_eps,
              flink_exactly_once_eps: kf.flink_exactly_once_eps,
              rivulet_at_least_once_eps: kafka.engine_at_least_once_eps!,
              rivulet_exactly_once_eps: kafka.engine_exactly_once_eps!,
              rivulet_at_least_once_vs_flink: kf.rivulet_at_least_once_vs_flink,
              rivulet_exactly_once_vs_flink: kf.rivulet_exactly_once_vs_flink,
              rivulet_platformatic_at_least_once_eps: kafka.engine_platformatic_at_least_once_eps!,
              rivulet_platformatic_exactly_once_eps: kafka.engine_platformatic_exactly_once_eps!,
              rivulet_platformatic_at_least_once_vs_flink: kf.rivulet_platformatic_at_least_once_vs_flink,
              rivulet_platformatic_exactly_once_vs_flink: kf.rivulet_platformatic_exactly_once_vs_flink,
            },
  };
}

function flinkSummary(f: FlinkSection): string {
  if (!("version" in f)) return `flink: no figures: ${f.error}`;
  const lines = [
    `flink: Rivulet with generation / Flink ${f.version} DataStream p=1 with generation, same machine and core, this run: geometric mean ${fmtRatio(f.geomean_rivulet_vs_flink)}; without generation on either side (events made up front): ${fmtRatio(f.geomean_rivulet_vs_flink_no_generation)}; output counts ${f.outputs_equal ? "equal on every query" : "DIFFER (see flink.queries)"}`,
  ];
  for (const [q, e] of Object.entries(f.errors)) lines.push(`  ${q}: ${e}`);
  for (const [q, x] of Object.entries(f.queries))
    if (!x.outputs_equal)
      lines.push(
        `  ${q}: Flink wrote ${x.flink_outputs} (${x.flink_no_generation_outputs} without generation), Rivulet ${x.rivulet_outputs}`,
      );
  const k = f.kafka_q1;
  lines.push(
    "error" in k
      ? `flink kafka q1: no figures: ${k.error}`
      : `flink kafka q1: at-least-once Flink ${fmt(k.flink_at_least_once_eps)}/s, Rivulet ${fmt(k.rivulet_at_least_once_eps)}/s (${fmtRatio(k.rivulet_at_least_once_vs_flink)}); exactly-once Flink ${fmt(k.flink_exactly_once_eps)}/s, Rivulet ${fmt(k.rivulet_exactly_once_eps)}/s (${fmtRatio(k.rivulet_exactly_once_vs_flink)}); producer "platformatic": at-least-once ${fmt(k.rivulet_platformatic_at_least_once_eps)}/s (${fmtRatio(k.rivulet_platformatic_at_least_once_vs_flink)}), exactly-once ${fmt(k.rivulet_platformatic_exactly_once_eps)}/s (${fmtRatio(k.rivulet_platformatic_exactly_once_vs_flink)})`,
  );
  return lines.join("\n");
}

/** Issue 11's edge target: q1 through the REST proxy, engine / raw loop over the same REST calls. */
const EDGE_TARGETS = { q1_engine_vs_raw: 0.8 };

type EdgeFigures =
  | "q1_engine_eps"
  | "q1_raw_rest_eps"
  | "q1_engine_vs_raw"
  | "proxy_produce_rps"
  | "kafkajs_produce_rps"
  | "proxy_produce_vs_kafkajs"
  | "proxy_fetch_rps"
  | "kafkajs_fetch_rps"
  | "proxy_fetch_vs_kafkajs"
  | "push_added_p50_ms"
  | "push_added_p99_ms";
type EdgeSection = Partial<Omit<EdgeBenchResult, EdgeFigures>> & {
  [K in EdgeFigures]: number | null;
} & { targets: typeof EDGE_TARGETS; error?: string };

/**
 * The edge part (bench/edge.ts) in a child process pinned like the rest (its broker and proxy go
 * to the other cores). Never throws: a failure is recorded as null figures with the reason.
 */
function edgePart(quick: boolean): EdgeSection {
  const none = (error: string): EdgeSection => ({
    q1_engine_eps: null,
    q1_raw_rest_eps: null,
    q1_engine_vs_raw: null,
    proxy_produce_rps: null,
    kafkajs_produce_rps: null,
    proxy_produce_vs_kafkajs: null,
    proxy_fetch_rps: null,
    kafkajs_fetch_rps: null,
    proxy_fetch_vs_kafkajs: null,
    push_added_p50_ms: null,
    push_added_p99_ms: null,
    targets: EDGE_TARGETS,
    error,
  });
  if (flag("no-edge")) return none("skipped (--no-edge)");
  const events = Number(option("edge-events") ?? (quick ? 30_000 : 200_000));
  console.log(
    `edge: q1 through the Kafka REST proxy over ${fmt(events)} events, the proxy against KafkaJS, push latency in workerd (progress below)...`,
  );
  const r = reexec(["--child=edge", `--n=${events}`], !flag("no-pin"), false);
  const last = String(r.stdout ?? "")
    .trim()
    .split("\n")
    .pop();
  let out: { ok: EdgeBenchResult } | { error: string } | undefined;
  try {
    out = last ? JSON.parse(last) : undefined;
  } catch {}
  if (!out || r.status !== 0)
    return none(`the edge child process failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`})`);
  if ("error" in out) return none(out.error);
  return { ...out.ok, targets: EDGE_TARGETS };
}

/** Issue 12's browser targets: fed through Comlink / on data already in the worker; checkpoint time. */
const BROWSER_TARGETS = { fed_vs_preloaded: 0.7, checkpoint_100k_ms: 250 };

type BrowserSection =
  | (BrowserBenchResult & { targets: typeof BROWSER_TARGETS })
  | { error: string; targets: typeof BROWSER_TARGETS };

/** The browser part (bench/browser.ts) in a child process; a failure is recorded with its reason. */
function browserPart(): BrowserSection {
  const none = (error: string): BrowserSection => ({ error, targets: BROWSER_TARGETS });
  if (flag("no-browser")) return none("skipped (--no-browser)");
  console.log(
    "browser: clicks-per-minute in a Web Worker in Chromium, fed from the page and preloaded (progress below)...",
  );
  const r = reexec(["--child=browser"], false, false);
  const last = String(r.stdout ?? "")
    .trim()
    .split("\n")
    .pop();
  let out: { ok: BrowserBenchResult } | { error: string } | undefined;
  try {
    out = last ? JSON.parse(last) : undefined;
  } catch {}
  if (!out || r.status !== 0)
    return none(`the browser child process failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`})`);
  if ("error" in out) return none(out.error);
  return { ...out.ok, targets: BROWSER_TARGETS };
}

function browserTable(b: BrowserSection): string {
  if ("error" in b) return `browser: no figures: ${b.error}`;
  const rows: string[][] = [];
  for (const [name, pair] of [
    ["memory", b.memory],
    ["indexeddb", b.indexeddb],
  ] as const) {
    if (!pair) continue;
    rows.push([`${name}: preloaded (data already in the worker)`, fmt(pair.preloaded_eps), "-", ""]);
    rows.push([
      `${name}: fed from the page through Comlink`,
      fmt(pair.fed_eps),
      fmtRatio(pair.fed_vs_preloaded),
      `>= ${BROWSER_TARGETS.fed_vs_preloaded}`,
    ]);
  }
  const head = ["browser: clicks-per-minute", "events/s", "ratio", "target"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  const cp = b.checkpoint;
  const cpLine = cp
    ? `checkpoint of ${fmt(cp.indexeddb.keys)} keys: IndexedDB min ${cp.indexeddb.min_ms} ms, median ${cp.indexeddb.median_ms} ms (target <= ${BROWSER_TARGETS.checkpoint_100k_ms}); in memory ${cp.memory.median_ms} ms`
    : "checkpoint: not measured";
  return [line(head), ...rows.map(line), cpLine, `Chromium ${b.chromium}`].join("\n");
}

function edgeTable(e: EdgeSection): string {
  if (e.q1_engine_eps === null || !e.q1 || !e.produce || !e.fetch || !e.push)
    return `edge: no figures: ${e.error}`;
  const pctOf = (x: number | null) => (x === null ? "?" : `${Math.round(x * 100)}%`);
  const rows: [string, EdgeRun, number | undefined, string][] = [
    ["q1: raw loop over the same REST calls", e.q1.raw, undefined, ""],
    [
      "q1: engine, RestProxyBroker + KeyValueStateStore",
      e.q1.engine,
      e.q1_engine_vs_raw ?? undefined,
      `>= ${EDGE_TARGETS.q1_engine_vs_raw}`,
    ],
    ["produce: KafkaJS producer.send", e.produce.kafkajs, undefined, ""],
    ["produce: proxy POST /topics/{t}", e.produce.proxy, e.proxy_produce_vs_kafkajs ?? undefined, ""],
    ["fetch: KafkaJS consumer", e.fetch.kafkajs, undefined, ""],
    ["fetch: proxy consumer instance", e.fetch.proxy, e.proxy_fetch_vs_kafkajs ?? undefined, ""],
  ];
  const head = [
    "edge: through the REST proxy",
    "per s",
    "ratio",
    "target",
    "seconds",
    "client",
    "proxy",
    "broker",
  ];
  const cells = rows.map(([name, r, vs, target]) => [
    name,
    fmt(r.eps),
    vs === undefined ? "-" : fmtRatio(vs),
    target,
    (r.ms / 1000).toFixed(2),
    pctOf(r.client_cpu),
    pctOf(r.proxy_cpu),
    pctOf(r.broker_cpu),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  const p = e.push;
  const ms = (l: { p50_ms: number; p99_ms: number }) => `p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms`;
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
    `(q1: ${fmt(e.events!)} events, ${e.partitions} partitions, ${fmt(e.expected_outputs!)} outputs checked per run; ratios: engine / raw, proxy / KafkaJS; CPU: share of a core over the run)`,
    `push of ${p.records_per_request} records, ${p.requests} requests: example worker in workerd ${ms(p.workerd_push)}; ` +
      `the same POSTed straight to the proxy ${ms(p.direct_proxy_post)}; added p50 ${p.added_p50_ms} ms, p99 ${p.added_p99_ms} ms ` +
      `(workerd GET /health alone: ${ms(p.workerd_health)})`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Output: table, JSON, chart.

const fmt = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}K`;
  return x.toFixed(0);
};
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? a / b : null;
const fmtRatio = (r: number | null) =>
  r === null ? "-" : r >= 100 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;

interface QueryResult {
  events: number;
  engine_eps: number;
  engine_with_generation_eps: number;
  /** Events made up front, outputs dropped: the engine's path alone (PreloadedNexmarkBroker). */
  engine_preloaded_eps: number;
  handwritten_eps: number;
  rxjs_eps: number | null;
  engine_vs_handwritten: number | null;
  outputs: number;
  samples: {
    engine: number[];
    engine_with_generation: number[];
    engine_preloaded: number[];
    handwritten: number[];
    rxjs: number[];
  };
  /** The engine runs timed from their start (the job's own JIT warm-up included). */
  whole_run: {
    engine_eps: number;
    engine_with_generation_eps: number;
    engine_preloaded_eps: number;
    engine_vs_handwritten: number | null;
  };
  /** The same runs timed by this process's CPU time instead of the wall clock (a shared machine). */
  cpu_time: { engine_eps: number; handwritten_eps: number; engine_vs_handwritten: number | null };
  /**
   * The engine path again, in one process that runs every query's engine one after another (null
   * with --same-process, where `engine_eps` itself is measured that way).
   */
  same_process: SameProcessResult | null;
}

interface SameProcessResult {
  engine_eps: number;
  /** same_process.engine_eps / engine_eps (the per-process figure). */
  ratio_to_per_process: number | null;
  whole_run_engine_eps: number;
  /** By this process's CPU time, as `cpu_time` (time lost to other processes left out). */
  cpu_time_engine_eps: number;
  cpu_time_ratio_to_per_process: number | null;
  samples: number[];
}

function table(results: Partial<Record<QueryName, QueryResult>>, flink: FlinkSection): string {
  const fq = "version" in flink ? flink.queries : undefined;
  const withFlink = fq !== undefined;
  const head = [
    "query",
    "events",
    "engine",
    "same-proc",
    "same/per",
    "engine+gen",
    "preloaded",
    "handwritten",
    "rxjs",
    ...(withFlink ? ["flink+gen", "flink-pre"] : []),
    "engine/hand",
    ...(withFlink ? ["+gen/flink", "pre/flink"] : []),
    "outputs",
  ];
  const rows = (Object.entries(results) as [QueryName, QueryResult][]).map(([q, r]) => [
    q,
    fmt(r.events),
    fmt(r.engine_eps),
    fmt(r.same_process?.engine_eps),
    fmtRatio(r.same_process?.ratio_to_per_process ?? null),
    fmt(r.engine_with_generation_eps),
    fmt(r.engine_preloaded_eps),
    fmt(r.handwritten_eps),
    fmt(r.rxjs_eps),
    ...(withFlink ? [fmt(fq[q]?.flink_eps), fmt(fq[q]?.flink_no_generation_eps ?? undefined)] : []),
    fmtRatio(r.engine_vs_handwritten),
    ...(withFlink
      ? [fmtRatio(fq[q]?.rivulet_vs_flink ?? null), fmtRatio(fq[q]?.rivulet_vs_flink_no_generation ?? null)]
      : []),
    String(r.outputs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Grouped bars per query on a log scale: engine, engine with generation, hand-written, Flink per core. */
function chart(results: Partial<Record<QueryName, QueryResult>>, flink: FlinkSection, title: string): string {
  const series: { label: string; color: string; value: (r: QueryResult) => number | null }[] = [
    { label: "Rivulet engine (pre-generated)", color: "#2563eb", value: (r) => r.engine_eps },
    {
      label: "Rivulet + generation (datagen, blackhole)",
      color: "#60a5fa",
      value: (r) => r.engine_with_generation_eps,
    },
    { label: "hand-written JS loop", color: "#9ca3af", value: (r) => r.handwritten_eps },
  ];
  const entries = Object.entries(results) as [QueryName, QueryResult][];
  if ("version" in flink) {
    const fq = flink.queries;
    const byResult = new Map(entries.map(([q, r]) => [r, q]));
    series.push({
      label: `Flink ${FLINK_VERSION} p=1 + generation (this run)`,
      color: "#f97316",
      value: (r) => fq[byResult.get(r)!]?.flink_eps ?? null,
    });
  }
  const lo = 4; // 10^4 events/s
  const hi = Math.max(
    8,
    Math.ceil(Math.log10(Math.max(...entries.flatMap(([, r]) => series.map((s) => s.value(r) ?? 1))))),
  );
  const W = 60 + entries.length * 92 + 20;
  const H = 380;
  const top = 50;
  const bottom = H - 70;
  const left = 60;
  const y = (v: number) => bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (bottom - top);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="36" fill="#555">events per second on one core, log scale (higher is better)</text>`,
  ];
  for (let d = lo; d <= hi; d++) {
    const yy = y(10 ** d).toFixed(1);
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/>`);
    const tick = ["1", "10", "100", "1K", "10K", "100K", "1M", "10M", "100M", "1G", "10G"][d] ?? `1e${d}`;
    parts.push(
      `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#555">${tick}</text>`,
    );
  }
  entries.forEach(([q, r], i) => {
    const x0 = left + 10 + i * 92;
    series.forEach((s, j) => {
      const v = s.value(r);
      const x = x0 + j * 18;
      if (v === null || !(v > 0)) {
        parts.push(
          `<text x="${x + 8}" y="${bottom - 4}" text-anchor="middle" font-size="9" fill="#999">n/a</text>`,
        );
        return;
      }
      const yy = y(v);
      parts.push(
        `<rect x="${x}" y="${yy.toFixed(1)}" width="16" height="${(bottom - yy).toFixed(1)}" fill="${s.color}"><title>${q} ${esc(s.label)}: ${fmt(v)}/s</title></rect>`,
      );
    });
    parts.push(`<text x="${x0 + 36}" y="${bottom + 16}" text-anchor="middle" font-weight="bold">${q}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${W - 20}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  series.forEach((s, j) => {
    const x = left + (j % 2) * 260;
    const yy = bottom + 34 + Math.floor(j / 2) * 16;
    parts.push(`<rect x="${x}" y="${yy - 9}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${x + 14}" y="${yy}">${esc(s.label)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------

/**
 * V8's young generation for the preloaded path, as the JVM's heap is sized for Flink's run over
 * an array (-Xms8g: a young generation of ~2.7 GB). With V8's default (16 MB semi-spaces) more of
 * a query's short-lived objects get promoted, and each major GC then marks the whole array of
 * events made up front (10M events: ~3 GB), a cost of the method, not of the engine: q1's
 * preloaded run made 18-29M/s with the default and 28-41M/s with this (10M events, by CPU time).
 */
const PRELOADED_NODE_FLAGS = ["--max-semi-space-size=64"];

/** Light queries get the full count; the joins with per-record keyed state fewer. */
function eventsFor(q: QueryName): number {
  const full = Number(option("events") ?? (flag("quick") ? 1_000_000 : 10_000_000));
  return q === "q4" || q === "q6" ? (option("events") ? full : full / 2) : full;
}

/** Timed engine runs per query (best kept); each needs a fresh topic (~3 s and a full GC at 10M). */
const engineRuns = () => Number(option("runs") ?? 2);
/** Loop passes per query (best kept), after `settle()`. */
const HAND_RUNS = 2;

/** What one query is measured on; each is timed in a process of its own by default. */
const PATHS = ["generation", "preloaded", "handwritten", "rxjs", "engine"] as const;
type Path = (typeof PATHS)[number];

/**
 * One path of one query: a warm-up on a 200K-event prefix (JIT), then its timed runs: the
 * engine with generation once, the loops best of 2, the engine and preloaded best of `runs`.
 * `getEvents` makes the pre-generated events (at least `eventsFor(q)`), only for the paths that
 * read them.
 */
async function measurePath(
  q: QueryName,
  path: Path,
  getEvents: () => readonly NexmarkEvent[],
  rx: RxQueries | undefined,
): Promise<Sample[]> {
  const qn = eventsFor(q);
  const warmN = Math.min(200_000, qn);
  if (path === "generation") {
    await engineWithGeneration(q, warmN);
    return [await engineWithGeneration(q, qn)];
  }
  if (path === "preloaded") {
    const events = getEvents();
    await enginePreloaded(q, events.slice(0, warmN));
    const timed = qn === events.length ? events : events.slice(0, qn);
    const out: Sample[] = [];
    for (let i = 0; i < engineRuns(); i++) out.push(await enginePreloaded(q, timed));
    return out;
  }
  const loop = path === "handwritten" ? HANDWRITTEN[q] : path === "rxjs" ? rx?.[q] : undefined;
  if (path !== "engine" && loop === undefined) return [];
  const events = getEvents();
  const warm = events.slice(0, warmN);
  const out: Sample[] = [];
  if (path === "engine") {
    await engineRun(q, warm, warm.length);
    for (let i = 0; i < engineRuns(); i++) out.push(await engineRun(q, events, qn));
    return out;
  }
  const slice = qn === events.length ? events : events.slice(0, qn);
  loop!(warm);
  await settle();
  for (let i = 0; i < HAND_RUNS; i++) out.push(loopRun(loop!, slice));
  return out;
}

/** A query's figures from its paths' samples. */
function queryResult(q: QueryName, samples: Record<Path, Sample[]>): QueryResult {
  const { engine: eng, generation: gen, preloaded: pre, handwritten: hand, rxjs: rxs } = samples;
  const e = best(eng);
  const h = best(hand);
  if (e.outputs !== h.outputs || gen[0]!.outputs !== h.outputs || pre[0]!.outputs !== h.outputs)
    console.warn(
      `  ${q}: engine wrote ${e.outputs} (${gen[0]!.outputs} with generation, ${pre[0]!.outputs} preloaded), the hand-written loop ${h.outputs}`,
    );
  const r: QueryResult = {
    events: eventsFor(q),
    engine_eps: Math.round(e.eps),
    engine_with_generation_eps: Math.round(best(gen).eps),
    engine_preloaded_eps: Math.round(best(pre).eps),
    handwritten_eps: Math.round(h.eps),
    rxjs_eps: rxs.length ? Math.round(best(rxs).eps) : null,
    engine_vs_handwritten: null,
    outputs: e.outputs,
    samples: {
      engine: eng.map((s) => Math.round(s.eps)),
      engine_with_generation: gen.map((s) => Math.round(s.eps)),
      engine_preloaded: pre.map((s) => Math.round(s.eps)),
      handwritten: hand.map((s) => Math.round(s.eps)),
      rxjs: rxs.map((s) => Math.round(s.eps)),
    },
    whole_run: {
      engine_eps: Math.round(Math.max(...eng.map((s) => s.whole ?? 0))),
      engine_with_generation_eps: Math.round(Math.max(...gen.map((s) => s.whole ?? 0))),
      engine_preloaded_eps: Math.round(Math.max(...pre.map((s) => s.whole ?? 0))),
      engine_vs_handwritten: null,
    },
    cpu_time: {
      engine_eps: Math.round(Math.max(...eng.map((s) => s.cpuEps))),
      handwritten_eps: Math.round(Math.max(...hand.map((s) => s.cpuEps))),
      engine_vs_handwritten: null,
    },
    same_process: null,
  };
  r.engine_vs_handwritten = ratio(r.engine_eps, r.handwritten_eps);
  r.cpu_time.engine_vs_handwritten = ratio(r.cpu_time.engine_eps, r.cpu_time.handwritten_eps);
  r.whole_run.engine_vs_handwritten = ratio(r.whole_run.engine_eps, r.handwritten_eps);
  return r;
}

/** The top-level `same_process` section of latest.json. */
interface SameProcessSummary {
  method: string;
  order: readonly QueryName[];
  engine_eps: Record<string, number>;
  ratio_to_per_process: Record<string, number | null>;
  geomean_ratio_to_per_process: number;
  cpu_time_geomean_ratio_to_per_process: number;
  min_ratio_to_per_process: { query: QueryName; ratio: number | null };
  seconds: number;
}

const geomean = (xs: readonly number[]): number =>
  Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** `--queries`, or all of them, in the order given. */
function selectedQueries(): readonly QueryName[] {
  const queries = (option("queries")?.split(",") as QueryName[] | undefined) ?? QUERY_NAMES;
  for (const q of queries) if (!(q in QUERIES)) throw new Error(`unknown query ${q}`);
  return queries;
}

/**
 * The same-process pass (a child process of its own): every query's engine path, exactly as in
 * its own process (a warm-up job on the 200K-event prefix, then best of `runs` over `eventsFor(q)`
 * events already in a fresh topic, each after `settle`), but one query after another in this one
 * process, over one array of pre-generated events: call sites shared by the queries see every
 * earlier query's functions, and each query runs on the heap the earlier ones left.
 */
async function sameProcessPass(queries: readonly QueryName[]): Promise<Record<string, Sample[]>> {
  const events = generateNexmark(CONFIG, Math.max(...queries.map(eventsFor)));
  const out: Record<string, Sample[]> = {};
  for (const q of queries) out[q] = await measurePath(q, "engine", () => events, undefined);
  return out;
}

async function main(): Promise<void> {
  const quick = flag("quick");
  const queries = selectedQueries();
  const full = eventsFor("q0");
  const runs = engineRuns();
  const sameProcess = flag("same-process");

  const cpu = cpus()[0]?.model ?? "unknown";
  console.log(
    `Nexmark on one core (${process.env[CHILD_ENV]}), node ${process.version}, ${cpu}; ${quick ? "quick" : "full"} run, ${sameProcess ? "every query and path in this process" : "each path of each query in a fresh process"}, best of ${runs} engine run(s) and ${HAND_RUNS} loop runs`,
  );
  const results: Partial<Record<QueryName, QueryResult>> = {};
  let events: readonly NexmarkEvent[] | undefined;
  let rx: RxQueries | undefined;
  if (sameProcess) {
    const t = now();
    const n = Math.max(...queries.map(eventsFor));
    events = generateNexmark(CONFIG, n);
    console.log(`generated ${fmt(n)} events in ${((now() - t) / 1000).toFixed(1)} s`);
    rx = await loadRxQueries();
    if (!rx) console.log("rxjs is not installed: rxjs_eps stays null");
  }
  const flinkSetup = flinkStart();
  const flinkRuns: Partial<Record<QueryName, FlinkRuns>> = {};
  for (const q of queries) {
    const t = now();
    const samples = {} as Record<Path, Sample[]>;
    for (const path of PATHS)
      samples[path] = sameProcess
        ? await measurePath(q, path, () => events!, rx)
        : (child(
            [`--child=path`, `--query=${q}`, `--path=${path}`],
            true,
            path === "preloaded" ? PRELOADED_NODE_FLAGS : [],
          ) as unknown as Sample[]);
    const r = (results[q] = queryResult(q, samples));
    console.log(
      `${q}: engine ${fmt(r.engine_eps)}/s, +generation ${fmt(r.engine_with_generation_eps)}/s, preloaded ${fmt(r.engine_preloaded_eps)}/s, hand-written ${fmt(r.handwritten_eps)}/s${r.rxjs_eps ? `, rxjs ${fmt(r.rxjs_eps)}/s` : ""} (${((now() - t) / 1000).toFixed(1)} s)`,
    );
    // Right after Rivulet's run with generation of the same query, so both see the same machine.
    if ("classpath" in flinkSetup) {
      const runs = {} as FlinkRuns;
      for (const source of ["generator", "array"] as const) {
        const t = now();
        const f = (runs[source] = flinkRun(flinkSetup.classpath, q, source));
        const what = source === "generator" ? "flink+generation" : "flink without generation";
        console.log(
          "error" in f
            ? `${q}: ${what}: ${f.error}`
            : `${q}: ${what} ${fmt(f.eps)}/s, ${f.outputs} outputs (${((now() - t) / 1000).toFixed(1)} s)`,
        );
      }
      flinkRuns[q] = runs;
    }
  }

  let sameProcessSummary: SameProcessSummary | null = null;
  if (!sameProcess) {
    const t = now();
    console.log(
      `same process: every query's engine, ${queries.join(", ")}, one after another in one process...`,
    );
    const pass = child(["--child=same-process"], true) as Record<string, Sample[]>;
    const line: string[] = [];
    for (const q of queries) {
      const r = results[q]!;
      const s = pass[q]!;
      const e = best(s);
      if (e.outputs !== r.outputs)
        console.warn(
          `  ${q}: the engine wrote ${e.outputs} in the same-process pass, ${r.outputs} in its own process`,
        );
      r.same_process = {
        engine_eps: Math.round(e.eps),
        ratio_to_per_process: ratio(e.eps, r.engine_eps),
        whole_run_engine_eps: Math.round(Math.max(...s.map((x) => x.whole ?? 0))),
        cpu_time_engine_eps: Math.round(Math.max(...s.map((x) => x.cpuEps))),
        cpu_time_ratio_to_per_process: null,
        samples: s.map((x) => Math.round(x.eps)),
      };
      r.same_process.cpu_time_ratio_to_per_process = ratio(
        r.same_process.cpu_time_engine_eps,
        r.cpu_time.engine_eps,
      );
      line.push(`${q} ${fmt(e.eps)}/s (${fmtRatio(r.same_process.ratio_to_per_process)})`);
    }
    const ratios = queries.map((q) => results[q]!.same_process!.ratio_to_per_process!);
    const min = queries.reduce((a, q) =>
      results[q]!.same_process!.ratio_to_per_process! < results[a]!.same_process!.ratio_to_per_process!
        ? q
        : a,
    );
    sameProcessSummary = {
      method:
        "one child process (pinned, same heap flags) runs the engine path of every query one after another, in `order`, each exactly as engine_eps (a warm-up job on the 200K-event prefix, then best of `runs`, timed from the job's 200,001st event to the end of drain, each after settle), over one pre-generated array; as a user running several pipelines in one process: call sites shared by the queries see every earlier query's functions (polymorphic), and each query runs on the heap the earlier ones left",
      order: queries,
      engine_eps: Object.fromEntries(queries.map((q) => [q, results[q]!.same_process!.engine_eps])),
      ratio_to_per_process: Object.fromEntries(
        queries.map((q) => [q, results[q]!.same_process!.ratio_to_per_process]),
      ),
      geomean_ratio_to_per_process: geomean(ratios),
      cpu_time_geomean_ratio_to_per_process: geomean(
        queries.map((q) => results[q]!.same_process!.cpu_time_ratio_to_per_process!),
      ),
      min_ratio_to_per_process: { query: min, ratio: results[min]!.same_process!.ratio_to_per_process },
      seconds: Math.round((now() - t) / 100) / 10,
    };
    console.log(`same process: ${line.join(", ")} (${((now() - t) / 1000).toFixed(1)} s)`);
  }

  console.log("memory (fresh processes)...");
  const keys = quick ? 1_000_000 : 1_000_000;
  const ws = child([`--child=window-state`, `--keys=${keys}`, "--kind=number"]) as Record<string, number>;
  const wsString = child([`--child=window-state`, `--keys=${keys}`, "--kind=string"]) as Record<
    string,
    number
  >;
  const rssN = eventsFor("q5");
  const rss = child([`--child=rss`, `--n=${rssN}`, "--q5"]) as Record<string, number>;
  const rssInput = child([`--child=rss`, `--n=${rssN}`]) as Record<string, number>;
  const kafka = kafkaPart(quick);
  const flink = flinkSection(flinkSetup, flinkRuns, results, kafka);
  const edge = edgePart(quick);
  const browser = browserPart();

  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpu,
    events: full,
    quick,
    pinned: process.env[CHILD_ENV],
    generator: { ...CONFIG, note: "generateNexmark defaults otherwise (10,000 events/s of event time)" },
    method:
      "each path (generation, preloaded, hand-written, rxjs, engine) of each query in a fresh process pinned to one core (unless process_per_path is false), after a warm-up of that path on a 200K-event prefix: engine_eps, best of `runs`: run + drain over `events` already in a 1-partition in-memory topic (a full GC first); engine_with_generation_eps, one run: events generated as the job polls (a generator source) and outputs dropped (a blackhole sink), as Flink's Nexmark runs; engine_preloaded_eps, best of `runs`: events made up front, each poll a window of that array (no copy), outputs dropped: the engine's path alone, against Flink's run over an array (that process with --max-semi-space-size=64, as Flink's JVM gets an 8 GB heap for it: the array of events would otherwise make every major GC costly); handwritten_eps / rxjs_eps, best of 2 passes: a loop over the same pre-generated array, outputs to an array; every timed run starts after a full GC and a wait until V8's background GC threads are idle (settle)",
    runs,
    process_per_path: !sameProcess,
    nexmark: results,
    same_process: sameProcessSummary ?? {
      skipped: "--same-process: every figure above is already measured in one process",
    },
    flink,
    kafka,
    edge,
    browser,
    memory: {
      window_state_bytes_per_key: Math.round(ws.engine!),
      window_state_bytes_per_key_string_keys: Math.round(wsString.engine!),
      plain_map_bytes_per_key: Math.round(ws.plainMap!),
      window_state_keys: keys,
      peak_rss_bytes_q5: rss.peakRss,
      peak_rss_bytes_baseline: rssInput.peakRss,
      peak_rss_events: rssN,
      note: "window state: heap growth after gc while a never-firing tumbling count holds `window_state_keys` live keys (number keys; string keys already in the input records); peak RSS: a fresh process running q5 over `peak_rss_events` generated events (generator source, blackhole sink), vs. a pipeline dropping every event",
    },
  };

  console.log(`\n${table(results, flink)}\n`);
  console.log(flinkSummary(flink));
  if (sameProcessSummary)
    console.log(
      `same-proc: the engine with every query's engine run one after another in one process (same/per: against "engine", each in its own process); geometric mean ${fmtRatio(sameProcessSummary.geomean_ratio_to_per_process)} (by CPU time ${fmtRatio(sameProcessSummary.cpu_time_geomean_ratio_to_per_process)}); ${sameProcessSummary.order[0]} runs first there, as in its own process, so its ratio is this run's noise\n`,
    );
  console.log(
    `window state: ${json.memory.window_state_bytes_per_key} B/key (string keys ${json.memory.window_state_bytes_per_key_string_keys}, a plain Map ${json.memory.plain_map_bytes_per_key}); ` +
      `peak RSS q5 over ${fmt(rssN)} events ${fmt(rss.peakRss)}B (a pipeline dropping every event: ${fmt(rssInput.peakRss)}B)`,
  );
  console.log(`\n${kafkaTable(kafka)}`);
  console.log(`\n${edgeTable(edge)}`);
  console.log(`\n${browserTable(browser)}`);
  const outDir = option("out") ?? join(here, "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(
    join(outDir, "chart.svg"),
    chart(
      results,
      flink,
      `Rivulet Nexmark, ${quick ? "quick" : "full"} run, ${json.date.slice(0, 10)}, node ${process.version}`,
    ),
  );
  console.log(`wrote ${join(outDir, "latest.json")} and chart.svg`);
}

async function childMain(kind: string): Promise<void> {
  let out: Record<string, number>;
  if (kind === "kafka") {
    // Always a JSON line: the figures, or why there are none (no Java, no broker, a failed check).
    let line: string;
    try {
      const rounds = Number(option("kafka-rounds") ?? 2);
      // --flink: Flink's q1 too, on the same broker and input (built already: an offline build here).
      const built = flag("flink") ? buildFlink() : undefined;
      line = JSON.stringify({
        ok: await kafkaBench({
          events: Number(option("n")),
          quick: flag("quick"),
          rounds,
          ...(built && "classpath" in built ? { flink: { classpath: built.classpath } } : {}),
        }),
      });
    } catch (e) {
      console.error(e);
      line = JSON.stringify({ error: e instanceof Error ? e.message.split("\n")[0] : String(e) });
    }
    console.log(line);
    return;
  }
  if (kind === "edge") {
    // Always a JSON line: the figures, or why there are none. Loaded here only: miniflare and
    // the proxy's helpers stay out of every other child.
    let line: string;
    try {
      const { edgeBench } = await import("./edge.js");
      const rounds = Number(option("edge-rounds") ?? 2);
      line = JSON.stringify({
        ok: await edgeBench({ events: Number(option("n")), quick: flag("quick"), rounds }),
      });
    } catch (e) {
      console.error(e);
      line = JSON.stringify({ error: e instanceof Error ? e.message.split("\n")[0] : String(e) });
    }
    console.log(line);
    return;
  }
  if (kind === "browser") {
    // Always a JSON line: the figures, or why there are none. playwright-core loads here only.
    let line: string;
    try {
      const { browserBench } = await import("./browser.js");
      line = JSON.stringify({ ok: await browserBench({ quick: flag("quick") }) });
    } catch (e) {
      console.error(e);
      line = JSON.stringify({ error: e instanceof Error ? e.message.split("\n")[0] : String(e) });
    }
    console.log(line);
    return;
  }
  if (kind === "path") {
    const q = option("query") as QueryName;
    const path = option("path") as Path;
    const rx = path === "rxjs" ? await loadRxQueries() : undefined;
    const samples = await measurePath(q, path, () => generateNexmark(CONFIG, eventsFor(q)), rx);
    console.log(JSON.stringify(samples));
    return;
  }
  if (kind === "same-process") {
    console.log(JSON.stringify(await sameProcessPass(selectedQueries())));
    return;
  }
  if (kind === "window-state")
    out = await windowStateBytes(Number(option("keys")), option("kind") === "string" ? "string" : "number");
  else if (kind === "rss") out = await peakRss(Number(option("n")), flag("q5"));
  else throw new Error(`unknown child ${kind}`);
  console.log(JSON.stringify(out));
}

if (!process.env[CHILD_ENV]) {
  const r = reexec([], !flag("no-pin"));
  process.exit(r.status ?? 1);
} else if (option("child")) {
  await childMain(option("child")!);
} else {
  await main();
}
