/**
 * Kafka end to end (issue 4): Nexmark q1 through a real broker, against the plainest fast
 * at-least-once KafkaJS consume+produce loop, in one process, on the same broker and input.
 *
 *   npx tsx bench/kafka.ts [--quick] [--events=N] [--rounds=N] [--max-batch=N] [--checkpoint-interval=MS] [--flink]
 *   (prints progress on stderr and the result as JSON on the last line of stdout; bench/run.ts
 *   runs it in a child process after the Nexmark part, --no-kafka skips it)
 *
 * The broker: $RIVULET_KAFKA (host:port) if set, else a single-node KRaft broker started with
 * test/infra/kafka.mjs (from its Maven cache) and stopped at the end. When this process is pinned
 * to one CPU (bench/run.ts pins it), a broker started here is moved to the other CPUs, so the
 * client has a core of its own, as in the Nexmark part.
 *
 * Input: N Nexmark events (all three kinds, as `generateNexmark({ seed: 42 })` makes them; q1
 * keeps the bids, 46 in 50) as JSON in a 6-partition topic, produced up front (plain producer,
 * batches, no transactions) before any clock starts. Then timed runs, each on a fresh consumer
 * group and a fresh 6-partition output topic (created before the clock starts), each from the
 * creation of its clients to the moment its group's committed offsets, polled every 100 ms with
 * the admin client, reach the input's end offsets (every output is written by then, and,
 * exactly-once, committed: the offsets commit in the same transaction as the outputs):
 *
 *   raw_kafkajs_eps            KafkaJS consumer (eachBatch, autoCommit off, one worker per
 *                              partition): JSON.parse, keep bids, q1's projection, one
 *                              producer.sendBatch (acks all) per batch, then commitOffsets.
 *   engine_at_least_once_eps   run(q1, { broker: KafkaBroker({ guarantee: "at-least-once" }), group })
 *   engine_exactly_once_eps    the same with exactly-once (transactions, read_committed), a
 *                              MemoryStateStore and checkpointInterval 100 ms (the interval only
 *                              paces commits when a state store is set; q1 keeps no state, so
 *                              its snapshots hold positions only).
 *   engine_exactly_once_per_poll_eps   (extra) exactly-once without a state store: a transaction
 *                              per poll, what a stateless job does by default.
 *
 * Every run's output topic is then read back by a read_committed KafkaJS consumer: it must hold
 * exactly one record per bid, with the expected sums of auction and bidder ids, or the bench
 * fails. A warm-up (each path over a small separate input) comes first, so that no timed run
 * pays for compiling its path.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { pathToFileURL } from "node:url";
import { type Admin, Kafka, logLevel as kafkaLogLevel, type Message, type Producer } from "kafkajs";
import { KafkaBroker } from "../adapters/node/index.js";
import { type Job, MemoryStateStore, type RunOptions, run } from "../core/index.js";
import { generateNexmark, type NexmarkEvent } from "../core/testing.js";
import { flinkKafkaQ1 } from "./flink.js";
import { EURO_RATE, type Q1Result, q1 } from "./nexmark/queries.js";

export interface KafkaBenchOptions {
  /** Input events (all kinds; q1 keeps the bids, 46 of every 50). */
  events: number;
  quick: boolean;
  /** The engine's `maxBatch` (records per partition per poll); default: the engine's (1000). */
  maxBatch?: number;
  /** checkpointInterval of the exactly-once run (ms, default 100). */
  checkpointInterval?: number;
  /**
   * Timed runs of each path (default 2), the best kept: round 1 in the order raw, at-least-once,
   * exactly-once, per poll; round 2 the other way round, and so on (so no path always goes first).
   */
  rounds?: number;
  /**
   * Also run q1 on Flink (bench/flink's KafkaQ1: KafkaSource, KafkaSink at-least-once and
   * exactly-once, checkpoints every `checkpointMs`, default 100) on the same broker and input, in
   * each round after Rivulet's paths: the classpath buildFlink made.
   */
  flink?: { classpath: string; checkpointMs?: number };
  /**
   * Also time `rivulet run` (the CLI, at-least-once, producer platformatic) with `--workers 1`
   * and `--workers N`: how the figure scales with processes. Default 2; 0 skips it.
   */
  workers?: number;
}

/** Flink's q1 through Kafka, and Rivulet's figures over it (same broker, input and rounds). */
export interface KafkaFlinkResult {
  flink_at_least_once_eps: number;
  flink_exactly_once_eps: number;
  /** Rivulet with its default client (KafkaJS). */
  rivulet_at_least_once_vs_flink: number;
  rivulet_exactly_once_vs_flink: number;
  /** Rivulet with `producer: "platformatic"`. */
  rivulet_platformatic_at_least_once_vs_flink: number;
  rivulet_platformatic_exactly_once_vs_flink: number;
  checkpoint_ms: number;
  runs: { at_least_once: KafkaRun; exactly_once: KafkaRun };
  notes: string;
}

export interface KafkaRun {
  eps: number;
  ms: number;
  /** Of `ms`: until the clients were connected and the consumer had joined its group. */
  startup_ms: number;
  /** Output records read back (read_committed). */
  outputs: number;
  /** CPU time of this Node process (all its threads) over `ms`, in cores (1 = one core busy). */
  client_cpu: number;
  /** The same for the broker's JVM (null when the broker is external). */
  broker_cpu: number | null;
  /** Share of all the machine's CPUs busy over `ms` (whatever runs, not only these two). */
  machine_busy: number | null;
  /** events/s of every round of this path (the best is `eps`). */
  samples: number[];
  /**
   * Engine runs: the job's commits (`Broker.commit`: encoding, produce requests, offsets or
   * the transaction, awaited by the job's loop before its next poll).
   */
  commits?: { count: number; total_ms: number; mean_ms: number; records_per_commit: number };
}

export interface KafkaBenchResult {
  raw_kafkajs_eps: number;
  engine_at_least_once_eps: number;
  engine_exactly_once_eps: number;
  events: number;
  notes: string;
  engine_exactly_once_per_poll_eps: number;
  engine_at_least_once_vs_raw: number;
  engine_exactly_once_vs_raw: number;
  engine_exactly_once_per_poll_vs_raw: number;
  /** The engine with `KafkaBroker({ producer: "platformatic" })` (@platformatic/kafka writes; KafkaJS reads). */
  engine_platformatic_at_least_once_eps: number;
  engine_platformatic_exactly_once_eps: number;
  engine_platformatic_at_least_once_vs_raw: number;
  engine_platformatic_exactly_once_vs_raw: number;
  partitions: number;
  /** Bids in the input: the output records each run must write. */
  expected_outputs: number;
  input_bytes: number;
  exactly_once_checkpoint_interval_ms: number;
  max_batch: number | null;
  broker: string;
  runs: {
    raw: KafkaRun;
    at_least_once: KafkaRun;
    exactly_once: KafkaRun;
    exactly_once_per_poll: KafkaRun;
    platformatic_at_least_once: KafkaRun;
    platformatic_exactly_once: KafkaRun;
  };
  /** With `flink`: the same q1 on Flink, or why there are no figures. */
  flink?: KafkaFlinkResult | { error: string };
  /** `rivulet run --workers 1` and `--workers N` (processes started inside the timing). */
  workers?: {
    n: number;
    one_eps: number;
    n_eps: number;
    scaling: number;
    runs: { one: KafkaRun; n: KafkaRun };
    notes: string;
  };
}

const PARTITIONS = 6;
const CHECKPOINT_INTERVAL = 100;
const POLL_COMMITTED_MS = 100;
const WARMUP_EVENTS = 30_000;
const SEED = 42;

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const sum = (xs: Iterable<number>) => {
  let s = 0;
  for (const x of xs) s += x;
  return s;
};

interface Input {
  topic: string;
  /** End offset per partition. */
  ends: Map<number, number>;
  events: number;
  bids: number;
  /** Sums over the bids, for the output check. */
  auctionSum: number;
  bidderSum: number;
  bytes: number;
}

export interface Started {
  bootstrap: string;
  /** The broker's JVM, when started here (its CPU time is measured). */
  pid?: number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The broker, and where the CPU time goes.

/** The broker: $RIVULET_KAFKA, or one started from test/infra/kafka.mjs (its Maven cache). */
export async function startBroker(): Promise<Started & { where: string }> {
  const external = process.env.RIVULET_KAFKA;
  if (external) return { bootstrap: external, stop: async () => {}, where: `external broker ${external}` };
  // A plain JS module without types: imported by URL so that the type checker does not look for them.
  const infra = new URL("../test/infra/kafka.mjs", import.meta.url).href;
  const { startKafka } = (await import(infra)) as {
    startKafka(): Promise<Started & { version: string; pid: number }>;
  };
  const k = await startKafka();
  const moved = moveOffOurCpu(k.pid);
  return {
    ...k,
    where: `Kafka ${k.version}, single-node KRaft (test/infra/kafka.mjs)${moved ? `, on CPUs ${moved}` : ""}`,
  };
}

/**
 * When this process is pinned to one CPU, moves the broker (every thread) to the others, so that
 * the client keeps its core. Returns the broker's CPU list, or undefined when nothing was moved.
 */
export function moveOffOurCpu(pid: number): string | undefined {
  if (process.platform !== "linux" || !existsSync("/usr/bin/taskset")) return undefined;
  const ours = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  if (!ours || !/^\d+$/.test(ours)) return undefined;
  const others = cpus()
    .map((_, i) => i)
    .filter((i) => i !== Number(ours));
  if (others.length === 0) return undefined;
  const r = spawnSync("/usr/bin/taskset", ["-a", "-p", "-c", others.join(","), String(pid)], {
    stdio: "ignore",
  });
  return r.status === 0 ? others.join(",") : undefined;
}

/** Busy and total jiffies of all CPUs so far (/proc/stat), else undefined. */
export function systemTicks(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = sum(cpu.slice(0, 8));
    return { busy: total - cpu[3]! - cpu[4]!, total };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system, all threads) of a process so far, from /proc (Linux), else undefined. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime: fields 14 and 15 of the line (11 and 12 after the command), in 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Topics.

/**
 * N events as JSON into a fresh topic, round-robin over the partitions (so each partition is in
 * event time), with a plain producer: batches of 12K messages (~640 KB per partition, under the
 * broker's 1 MB batch limit), four requests in flight, no transactions.
 */
async function produceInput(kafka: Kafka, admin: Admin, n: number, prefix: string): Promise<Input> {
  const topic = uniq(prefix);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const input: Input = {
    topic,
    ends: new Map(),
    events: n,
    bids: 0,
    auctionSum: 0,
    bidderSum: 0,
    bytes: 0,
  };
  const CHUNK = 12_000;
  const inFlight = new Set<Promise<unknown>>();
  try {
    for (let start = 0; start < n; start += CHUNK) {
      const events: NexmarkEvent[] = generateNexmark({ seed: SEED }, Math.min(CHUNK, n - start), start);
      const messages: Message[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (e.kind === "bid") {
          input.bids++;
          input.auctionSum += e.bid.auction;
          input.bidderSum += e.bid.bidder;
        }
        const value = JSON.stringify(e);
        input.bytes += value.length;
        messages[i] = { value, partition: (start + i) % PARTITIONS, timestamp: String(e.timestamp) };
      }
      const p = producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => {});
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  for (const o of await admin.fetchTopicOffsets(topic)) input.ends.set(o.partition, Number(o.high));
  const total = sum(input.ends.values());
  if (total !== n) throw new Error(`input ${topic}: ${total} records, want ${n}`);
  return input;
}

async function createOutput(admin: Admin, prefix: string): Promise<string> {
  const topic = uniq(prefix);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  return topic;
}

/**
 * Resolves with the time (performance.now()) at which `group`'s committed offsets were first seen
 * at the input's end offsets, polling every 100 ms; rejects if `failed` does, or after `timeoutMs`.
 */
async function committedAtEnd(
  admin: Admin,
  group: string,
  input: Input,
  timeoutMs: number,
  failed: Promise<unknown>,
): Promise<number> {
  let failure: { error: unknown } | undefined;
  failed.then(
    () => {},
    (error) => {
      failure = { error };
    },
  );
  const deadline = now() + timeoutMs;
  for (;;) {
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [input.topic] });
    const at = now();
    const seen = new Map<number, number>();
    for (const t of offsets) for (const p of t.partitions) seen.set(p.partition, Number(p.offset));
    if ([...input.ends].every(([p, end]) => (seen.get(p) ?? -1) >= end)) return at;
    if (failure) throw failure.error;
    if (at > deadline) {
      const done = sum([...seen.values()].filter((o) => o > 0));
      throw new Error(`group ${group}: committed ${done} of ${input.events} records after ${timeoutMs} ms`);
    }
    await sleep(POLL_COMMITTED_MS);
  }
}

interface ReadBack {
  count: number;
  auctionSum: number;
  bidderSum: number;
}

/** Reads `topic` to its end as a read_committed consumer: records, and the sums of their ids. */
async function readBack(kafka: Kafka, admin: Admin, topic: string, timeoutMs: number): Promise<ReadBack> {
  const consumer = kafka.consumer({
    groupId: uniq("bench-reader"),
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  const next = new Map<number, number>();
  const got: ReadBack = { count: 0, auctionSum: 0, bidderSum: 0 };
  const deadline = now() + timeoutMs;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // Batches of control records only (transaction markers) never reach eachBatch.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      next.set(payload.partition, Math.max(next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
    });
    await consumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const r = JSON.parse(m.value!.toString()) as Q1Result;
          got.count++;
          got.auctionSum += r.auction;
          got.bidderSum += r.bidder;
        }
      },
    });
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      if (ends.every((e) => Number(e.high) === 0 || (next.get(e.partition) ?? 0) >= Number(e.high)))
        return got;
      if (now() > deadline)
        throw new Error(`reading back ${topic}: ${got.count} records after ${timeoutMs} ms`);
      await sleep(50);
    }
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Timed runs.

/** A path, started: what fails it, how to end it, and (engine) its commit statistics. */
interface Running {
  failed: Promise<unknown>;
  stop(): Promise<void>;
  commits?: CommitStats;
}

interface CommitStats {
  count: number;
  ms: number;
  records: number;
}

type Path = (input: Input, output: string, group: string) => Promise<Running>;

async function timed(
  kafka: Kafka,
  admin: Admin,
  brokerPid: number | undefined,
  what: string,
  input: Input,
  path: Path,
  timeoutMs: number,
): Promise<KafkaRun> {
  const output = await createOutput(admin, `bench-${what}-out`);
  const group = uniq(`bench-${what}`);
  (globalThis as { gc?: () => void }).gc?.();
  const cpu0 = process.cpuUsage();
  const broker0 = cpuSeconds(brokerPid);
  const sys0 = systemTicks();
  const t0 = now();
  const r = await path(input, output, group);
  const joined = now();
  let t1: number;
  let cpu: NodeJS.CpuUsage;
  let broker1: number | undefined;
  let sys1: ReturnType<typeof systemTicks>;
  try {
    t1 = await committedAtEnd(admin, group, input, timeoutMs, r.failed);
    // Up to the end, not over the stop (which waits for fetches and leaves the group).
    cpu = process.cpuUsage(cpu0);
    broker1 = cpuSeconds(brokerPid);
    sys1 = systemTicks();
  } finally {
    await r.stop();
  }
  const ms = t1 - t0;
  const got = await readBack(kafka, admin, output, 120_000);
  if (got.count !== input.bids || got.auctionSum !== input.auctionSum || got.bidderSum !== input.bidderSum)
    throw new Error(
      `${what}: the output holds ${got.count} records (auction ids sum to ${got.auctionSum}, bidder ids ` +
        `to ${got.bidderSum}), want ${input.bids} (${input.auctionSum}, ${input.bidderSum})`,
    );
  const eps = Math.round((input.events / ms) * 1000);
  const result: KafkaRun = {
    eps,
    samples: [eps],
    ms: Math.round(ms),
    startup_ms: Math.round(joined - t0),
    outputs: got.count,
    client_cpu: Number(((cpu.user + cpu.system) / 1000 / ms).toFixed(2)),
    broker_cpu:
      broker0 === undefined || broker1 === undefined
        ? null
        : Number((((broker1 - broker0) * 1000) / ms).toFixed(2)),
    machine_busy:
      sys0 && sys1 && sys1.total > sys0.total
        ? Number(((sys1.busy - sys0.busy) / (sys1.total - sys0.total)).toFixed(2))
        : null,
  };
  if (r.commits && r.commits.count > 0)
    result.commits = {
      count: r.commits.count,
      total_ms: Math.round(r.commits.ms),
      mean_ms: Number((r.commits.ms / r.commits.count).toFixed(1)),
      records_per_commit: Math.round(r.commits.records / r.commits.count),
    };
  return result;
}

/**
 * The plainest fast at-least-once loop: per fetched batch (one worker per partition), parse,
 * filter, project, one sendBatch with acks all, then commit the batch's offsets.
 */
async function rawLoop(bootstrap: string, input: Input, output: string, group: string): Promise<Running> {
  const kafka = new Kafka({ clientId: "bench-raw", brokers: [bootstrap], logLevel: kafkaLogLevel.NOTHING });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  // maxWaitTimeInMs as the engine's consumer has it: no effect while data flows (a fetch returns
  // as soon as it has any), but disconnect() waits for the fetch in flight (KafkaJS's default: 5 s).
  const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  let crashed!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (crashed = reject));
  failed.catch(() => {});
  consumer.on(consumer.events.CRASH, ({ payload }) => crashed(payload.error));
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [input.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const messages: Message[] = [];
      for (const m of batch.messages) {
        const e = JSON.parse(m.value!.toString()) as NexmarkEvent;
        if (e.kind !== "bid") continue;
        const b = e.bid;
        const out: Q1Result = {
          auction: b.auction,
          bidder: b.bidder,
          price: EURO_RATE * b.price,
          dateTime: b.dateTime,
          extra: b.extra,
        };
        messages.push({ value: JSON.stringify(out), timestamp: m.timestamp });
      }
      if (messages.length > 0)
        await producer.sendBatch({ topicMessages: [{ topic: output, messages }], acks: -1 });
      const offset = String(Number(batch.lastOffset()) + 1);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset }]);
    },
  });
  return {
    failed,
    stop: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** q1 on Rivulet through a KafkaBroker of its own. */
async function engine(
  bootstrap: string,
  guarantee: "at-least-once" | "exactly-once",
  extra: Partial<RunOptions>,
  input: Input,
  output: string,
  group: string,
  producer: "kafkajs" | "platformatic" = "kafkajs",
): Promise<Running> {
  const broker = new KafkaBroker({
    brokers: [bootstrap],
    clientId: `bench-${guarantee}-${producer}`,
    guarantee,
    logLevel: "nothing",
    producer,
  });
  // Instrumentation only: how long the job's loop waits in each commit.
  const commits: CommitStats = { count: 0, ms: 0, records: 0 };
  const commit = broker.commit.bind(broker);
  broker.commit = async (tx) => {
    const t = now();
    const result = await commit(tx);
    commits.count++;
    commits.ms += now() - t;
    commits.records += tx.records.length;
    return result;
  };
  let job: Job;
  try {
    job = await run(q1(input.topic, output), { broker, group, ...extra });
  } catch (e) {
    await broker.close();
    throw e;
  }
  return {
    failed: job.done,
    commits,
    stop: async () => {
      try {
        await job.stop();
        const m = job.metrics().records;
        if (m.in !== input.events)
          throw new Error(`${guarantee}: the job read ${m.in} records, want ${input.events}`);
      } finally {
        await broker.close();
      }
    },
  };
}

/**
 * q1 through the CLI as a user starts it: `rivulet run bench/kafka-q1-job.ts q1Job --workers N`
 * (at-least-once, producer platformatic), its processes on every CPU (not pinned: N processes on
 * one core could not scale), stopped with SIGTERM by the pid started here.
 */
async function cliWorkers(
  bootstrap: string,
  workers: number,
  input: Input,
  output: string,
  group: string,
): Promise<Running> {
  const root = new URL("..", import.meta.url).pathname;
  const args = [
    `${root}bin/rivulet.mjs`,
    "run",
    `${root}bench/kafka-q1-job.ts`,
    "q1Job",
    "--brokers",
    bootstrap,
    "--group",
    group,
    "--guarantee",
    "at-least-once",
    "--producer",
    "platformatic",
    "--workers",
    String(workers),
    "--status-interval",
    "0",
  ];
  const cpusAll = cpus()
    .map((_, i) => i)
    .join(",");
  const pinned = process.platform === "linux" && existsSync("/usr/bin/taskset");
  const child = spawn(
    pinned ? "/usr/bin/taskset" : process.execPath,
    pinned ? ["-c", cpusAll, process.execPath, ...args] : args,
    {
      env: { ...process.env, BENCH_INPUT: input.topic, BENCH_OUTPUT: output },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const failed = exited.then((code) => {
    throw new Error(`rivulet run --workers ${workers} exited (${code}) before the end: ${stderr}`);
  });
  failed.catch(() => {});
  return {
    failed,
    stop: async () => {
      child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(30_000).then(() => "timeout" as const)]);
      if (code === "timeout") {
        child.kill("SIGKILL");
        throw new Error(`rivulet run --workers ${workers} did not stop within 30 s`);
      }
    },
  };
}

/**
 * q1 on Flink (KafkaQ1.java in a JVM of its own, on this process's CPUs): its warm-up job over
 * `warm`, then the timed job over `input`, timed inside the JVM from the job's submission to its
 * end; then the output read back and checked as every other path's.
 */
async function timedFlink(
  kafka: Kafka,
  admin: Admin,
  brokerPid: number | undefined,
  classpath: string,
  bootstrap: string,
  guarantee: "at-least-once" | "exactly-once",
  checkpointMs: number,
  warm: Input,
  input: Input,
): Promise<KafkaRun> {
  const what = `flink-${guarantee}`;
  const [out, warmOut] = [
    await createOutput(admin, `bench-${what}-out`),
    await createOutput(admin, `bench-${what}-warm`),
  ];
  const broker0 = cpuSeconds(brokerPid);
  const sys0 = systemTicks();
  const t0 = now();
  const r = await flinkKafkaQ1(classpath, {
    bootstrap,
    topic: input.topic,
    out,
    warmTopic: warm.topic,
    warmOut,
    group: uniq(`bench-${what}`),
    guarantee,
    checkpointMs,
  });
  // The broker's CPU over the whole JVM's life (warm-up included): scaled to the timed share.
  const share = r.ms / (now() - t0);
  const broker1 = cpuSeconds(brokerPid);
  const sys1 = systemTicks();
  const got = await readBack(kafka, admin, out, 120_000);
  if (got.count !== input.bids || got.auctionSum !== input.auctionSum || got.bidderSum !== input.bidderSum)
    throw new Error(
      `${what}: the output holds ${got.count} records (auction ids sum to ${got.auctionSum}, bidder ids ` +
        `to ${got.bidderSum}), want ${input.bids} (${input.auctionSum}, ${input.bidderSum})`,
    );
  const eps = Math.round((input.events / r.ms) * 1000);
  return {
    eps,
    samples: [eps],
    ms: Math.round(r.ms),
    startup_ms: Math.round(r.submit_ms),
    outputs: got.count,
    client_cpu: r.client_cpu,
    broker_cpu:
      broker0 === undefined || broker1 === undefined
        ? null
        : Number((((broker1 - broker0) * 1000 * share) / r.ms).toFixed(2)),
    machine_busy:
      sys0 && sys1 && sys1.total > sys0.total
        ? Number(((sys1.busy - sys0.busy) / (sys1.total - sys0.total)).toFixed(2))
        : null,
  };
}

// ---------------------------------------------------------------------------------------------

const fmt = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}K` : x.toFixed(0);
const pct = (x: number | null) => (x === null ? "?" : `${Math.round(x * 100)}%`);

/**
 * Runs the Kafka benchmark: starts (or finds) a broker, produces the input, warms every path up,
 * times each path (best of `rounds`), checks every output, stops the broker it started.
 */
export async function kafkaBench(options: KafkaBenchOptions): Promise<KafkaBenchResult> {
  const n = options.events;
  if (!Number.isInteger(n) || n < PARTITIONS)
    throw new Error(`kafka bench: events must be an integer >= ${PARTITIONS}`);
  const interval = options.checkpointInterval ?? CHECKPOINT_INTERVAL;
  const rounds = options.rounds ?? 2;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error("kafka bench: rounds must be a positive integer");
  const batch: Partial<RunOptions> = options.maxBatch ? { maxBatch: options.maxBatch } : {};
  const log = (s: string) => console.error(`  kafka: ${s}`);
  const began = now();
  let t = began;
  const k = await startBroker();
  log(`${k.where} at ${k.bootstrap} (${((now() - t) / 1000).toFixed(1)} s)`);
  const kafka = new Kafka({
    clientId: "bench-setup",
    brokers: [k.bootstrap],
    logLevel: kafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    t = now();
    const warmN = Math.min(WARMUP_EVENTS, n);
    const warm = await produceInput(kafka, admin, warmN, "bench-warmup");
    const input = await produceInput(kafka, admin, n, "bench-q1");
    log(
      `produced ${fmt(n)} events (${fmt(input.bids)} bids, ${(input.bytes / 1e6).toFixed(0)} MB of JSON) to ` +
        `${PARTITIONS} partitions, and ${fmt(warmN)} to warm up, in ${((now() - t) / 1000).toFixed(1)} s`,
    );
    const bs = k.bootstrap;
    // Exactly-once with a state store, so that checkpointInterval paces the transactions.
    const checkpointed =
      (producer: "kafkajs" | "platformatic"): Path =>
      (i, o, g) =>
        engine(
          bs,
          "exactly-once",
          { ...batch, state: new MemoryStateStore(), checkpointInterval: interval },
          i,
          o,
          g,
          producer,
        );
    const paths: [keyof KafkaBenchResult["runs"], Path][] = [
      ["raw", (i, o, g) => rawLoop(bs, i, o, g)],
      ["at_least_once", (i, o, g) => engine(bs, "at-least-once", batch, i, o, g)],
      ["exactly_once", checkpointed("kafkajs")],
      ["exactly_once_per_poll", (i, o, g) => engine(bs, "exactly-once", batch, i, o, g)],
      [
        "platformatic_at_least_once",
        (i, o, g) => engine(bs, "at-least-once", batch, i, o, g, "platformatic"),
      ],
      ["platformatic_exactly_once", checkpointed("platformatic")],
    ];
    t = now();
    for (const [what, path] of paths) await timed(kafka, admin, k.pid, what, warm, path, 60_000);
    log(`warm-up: ${fmt(warmN)} events through each path in ${((now() - t) / 1000).toFixed(1)} s`);
    // Generous (>= 500 events/s): a stuck run fails rather than hangs.
    const timeoutMs = Math.max(60_000, n * 2);
    const runs: Partial<KafkaBenchResult["runs"]> = {};
    const flinkRuns: Partial<KafkaFlinkResult["runs"]> = {};
    let flinkError: string | undefined;
    const keep = <K extends string>(into: Partial<Record<K, KafkaRun>>, what: K, r: KafkaRun) => {
      const prev = into[what];
      if (prev) r.samples = [...prev.samples, r.eps];
      if (!prev || r.eps > prev.eps) into[what] = r;
      else prev.samples = r.samples;
    };
    const flinkCheckpoint = options.flink?.checkpointMs ?? CHECKPOINT_INTERVAL;
    for (let round = 0; round < rounds; round++) {
      for (const [what, path] of round % 2 === 0 ? paths : [...paths].reverse()) {
        const r = await timed(kafka, admin, k.pid, what, input, path, timeoutMs);
        log(
          `${what}: ${fmt(r.eps)} events/s (${(r.ms / 1000).toFixed(2)} s; CPU: client ${pct(r.client_cpu)}, ` +
            `broker ${pct(r.broker_cpu)}, machine ${pct(r.machine_busy)} busy` +
            (r.commits
              ? `; ${r.commits.count} commits, ${r.commits.mean_ms} ms and ${fmt(r.commits.records_per_commit)} records each)`
              : ")"),
        );
        keep(runs, what, r);
      }
      if (!options.flink || flinkError) continue;
      const guarantees = ["at-least-once", "exactly-once"] as const;
      for (const g of round % 2 === 0 ? guarantees : [...guarantees].reverse()) {
        try {
          const r = await timedFlink(
            kafka,
            admin,
            k.pid,
            options.flink.classpath,
            bs,
            g,
            flinkCheckpoint,
            warm,
            input,
          );
          log(
            `flink ${g}: ${fmt(r.eps)} events/s (${(r.ms / 1000).toFixed(2)} s after ${(r.startup_ms / 1000).toFixed(2)} s to submit; ` +
              `CPU: client ${pct(r.client_cpu)}, broker ${pct(r.broker_cpu)})`,
          );
          keep(flinkRuns, g === "at-least-once" ? "at_least_once" : "exactly_once", r);
        } catch (e) {
          flinkError = e instanceof Error ? e.message.split("\n")[0]! : String(e);
          log(`flink: ${flinkError}`);
        }
      }
    }
    let workersResult: KafkaBenchResult["workers"];
    const nWorkers = options.workers ?? 2;
    if (nWorkers > 0) {
      const cli: [string, number][] = [
        ["one", 1],
        ["n", nWorkers],
      ];
      const wRuns: Partial<Record<string, KafkaRun>> = {};
      for (const [, w] of cli)
        await timed(
          kafka,
          admin,
          k.pid,
          `cli-workers-${w}`,
          warm,
          (i, o, g) => cliWorkers(bs, w, i, o, g),
          60_000,
        );
      for (let round = 0; round < rounds; round++)
        for (const [what, w] of round % 2 === 0 ? cli : [...cli].reverse()) {
          const r = await timed(
            kafka,
            admin,
            k.pid,
            `cli-workers-${w}`,
            input,
            (i, o, g) => cliWorkers(bs, w, i, o, g),
            timeoutMs,
          );
          log(
            `rivulet run --workers ${w}: ${fmt(r.eps)} events/s (${(r.ms / 1000).toFixed(2)} s, processes started inside; CPU: broker ${pct(r.broker_cpu)}, machine ${pct(r.machine_busy)} busy)`,
          );
          keep(wRuns, what, r);
        }
      const one = wRuns.one!;
      const many = wRuns.n!;
      workersResult = {
        n: nWorkers,
        one_eps: one.eps,
        n_eps: many.eps,
        scaling: Number((many.eps / one.eps).toFixed(3)),
        runs: { one, n: many },
        notes:
          `rivulet run bench/kafka-q1-job.ts q1Job --guarantee at-least-once --producer platformatic --workers 1 and --workers ${nWorkers}, ` +
          `as a user starts it, its processes on every CPU of the machine (${cpus().length}; the broker shares them), timed from spawning the CLI ` +
          `(process start and tsx loading included, ~1-2 s) until the group's committed offsets reach the input's end; outputs read back and checked. ` +
          `Best of ${rounds} rounds, alternating order, after a warm-up run of each.`,
      };
    }
    log(`done in ${((now() - began) / 1000).toFixed(0)} s`);
    const {
      raw,
      at_least_once,
      exactly_once,
      exactly_once_per_poll,
      platformatic_at_least_once,
      platformatic_exactly_once,
    } = runs as KafkaBenchResult["runs"];
    const vs = (r: KafkaRun) => Number((r.eps / raw.eps).toFixed(3));
    let flink: KafkaBenchResult["flink"];
    if (options.flink) {
      const { at_least_once: fa, exactly_once: fe } = flinkRuns;
      flink =
        fa && fe && !flinkError
          ? {
              flink_at_least_once_eps: fa.eps,
              flink_exactly_once_eps: fe.eps,
              rivulet_at_least_once_vs_flink: Number((at_least_once.eps / fa.eps).toFixed(3)),
              rivulet_exactly_once_vs_flink: Number((exactly_once.eps / fe.eps).toFixed(3)),
              rivulet_platformatic_at_least_once_vs_flink: Number(
                (platformatic_at_least_once.eps / fa.eps).toFixed(3),
              ),
              rivulet_platformatic_exactly_once_vs_flink: Number(
                (platformatic_exactly_once.eps / fe.eps).toFixed(3),
              ),
              checkpoint_ms: flinkCheckpoint,
              runs: { at_least_once: fa, exactly_once: fe },
              notes:
                `Flink 2.3 (bench/flink KafkaQ1), parallelism 1, object reuse, in a JVM on the client's core: KafkaSource ` +
                `(bounded at the input's end, read_committed), Jackson JSON parse, filter bids, q1's projection, KafkaSink ` +
                `(acks all) at-least-once / exactly-once, checkpoints every ${flinkCheckpoint} ms; a warm-up job over the ` +
                `warm-up input first in the same JVM; timed from the job's submission to its end (exactly-once: the last ` +
                `transaction committed); outputs read back and checked as Rivulet's. Best of ${rounds} rounds, each after Rivulet's paths.`,
            }
          : { error: flinkError ?? "no Flink run" };
    }
    return {
      raw_kafkajs_eps: raw.eps,
      engine_at_least_once_eps: at_least_once.eps,
      engine_exactly_once_eps: exactly_once.eps,
      events: n,
      notes:
        `q1 over ${n} Nexmark events (${input.bids} bids; JSON, ${PARTITIONS} partitions, produced before timing). ` +
        `Best of ${rounds} rounds (alternating order). Each run: a fresh group and output topic, timed from creating its clients until the group's committed ` +
        `offsets (polled every ${POLL_COMMITTED_MS} ms) reach the input's end; outputs then read back ` +
        `read_committed and checked (count, id sums). raw: KafkaJS eachBatch (a worker per partition), ` +
        `sendBatch (acks all) per batch, commitOffsets. at-least-once: KafkaBroker guarantee at-least-once. ` +
        `exactly-once: transactions, MemoryStateStore, checkpointInterval ${interval} ms; ` +
        `exactly_once_per_poll: no state store, a transaction per poll. platformatic_*: the same two engine runs ` +
        `with KafkaBroker({ producer: "platformatic" }) (@platformatic/kafka writes, KafkaJS reads). maxBatch ${options.maxBatch ?? "default"}. ` +
        `Every path warmed up on ${warmN} events first. Broker: ${k.where}.`,
      engine_exactly_once_per_poll_eps: exactly_once_per_poll.eps,
      engine_at_least_once_vs_raw: vs(at_least_once),
      engine_exactly_once_vs_raw: vs(exactly_once),
      engine_exactly_once_per_poll_vs_raw: vs(exactly_once_per_poll),
      engine_platformatic_at_least_once_eps: platformatic_at_least_once.eps,
      engine_platformatic_exactly_once_eps: platformatic_exactly_once.eps,
      engine_platformatic_at_least_once_vs_raw: vs(platformatic_at_least_once),
      engine_platformatic_exactly_once_vs_raw: vs(platformatic_exactly_once),
      partitions: PARTITIONS,
      expected_outputs: input.bids,
      input_bytes: input.bytes,
      exactly_once_checkpoint_interval_ms: interval,
      max_batch: options.maxBatch ?? null,
      broker: k.where,
      runs: {
        raw,
        at_least_once,
        exactly_once,
        exactly_once_per_poll,
        platformatic_at_least_once,
        platformatic_exactly_once,
      },
      ...(flink ? { flink } : {}),
      ...(workersResult ? { workers: workersResult } : {}),
    };
  } finally {
    await admin.disconnect().catch(() => {});
    await k.stop();
  }
}

// Standalone: npx tsx bench/kafka.ts [--quick] [--events=N] [--rounds=N] [--max-batch=N] [--checkpoint-interval=MS] [--flink]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes("--quick");
  const opts: KafkaBenchOptions = {
    events: Number(option("events") ?? (quick ? 200_000 : 1_000_000)),
    quick,
  };
  if (option("max-batch")) opts.maxBatch = Number(option("max-batch"));
  if (option("checkpoint-interval")) opts.checkpointInterval = Number(option("checkpoint-interval"));
  if (option("rounds")) opts.rounds = Number(option("rounds"));
  if (option("workers")) opts.workers = Number(option("workers"));
  if (argv.includes("--flink")) {
    const { buildFlink } = await import("./flink.js");
    const b = buildFlink();
    if ("error" in b) throw new Error(b.error);
    opts.flink = { classpath: b.classpath };
  }
  console.log(JSON.stringify(await kafkaBench(opts)));
}
