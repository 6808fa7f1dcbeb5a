/**
 * Edge (issue 11): Rivulet through a Kafka REST proxy (Rivulet's own, `rivulet proxy`, a process of
 * its own in front of the real broker), and the example edge worker in real workerd (Miniflare 3).
 *
 *   npx tsx bench/edge.ts [--quick] [--events=N] [--rounds=N] [--requests=N] [--max-batch=N]
 *                         [--checkpoint-interval=MS] [--produce-bytes=N] [--proxy-cpus=LIST]
 *                         [--q1-only] [--q1-paths=raw,engine]
 *                         [--proxy-producer=kafkajs|platformatic]
 *   (progress on stderr, the result as JSON on the last line of stdout; bench/run.ts runs it in a
 *   child process after the Kafka part, --no-edge skips it)
 *
 * The broker: as bench/kafka.ts finds or starts it ($RIVULET_KAFKA, else test/infra/kafka.mjs),
 * moved off this process's CPU when it is pinned; the proxy (`bin/rivulet.mjs proxy
 * --rate-limit 0`, started as the tests start it) is moved there too, so the client (this
 * process) keeps its core. Three parts:
 *
 * 1. q1 end to end through the proxy: N Nexmark events as JSON in a 6-partition topic, produced
 *    with KafkaJS before any clock starts; then, each on a fresh group and output topic:
 *    - engine: `run(q1, { broker: new RestProxyBroker({ url }), state: new KeyValueStateStore(
 *      memoryStorage()), group, manual: true })`, `job.runFor({ maxRecords: N - read, maxMs:
 *      20 000 })` until all N are read (with the defaults every poll is followed by its commit:
 *      outputs written, checkpoint stored, offsets committed; maxRecords, because a runFor that
 *      has read everything returns only after two empty fetches, ~1 s of waiting);
 *    - raw: the same REST calls by hand: create a consumer instance (binary format), assign the
 *      6 partitions, then per `GET .../records` (the adapter's timeout and max_bytes): decode,
 *      keep bids, q1's projection, one `POST /topics/{out}` of the results (binary), one
 *      `POST .../offsets`; until all N are read.
 *    Each timed from creating its client to the last commit's answer; the output topic is then
 *    read back with KafkaJS (one record per bid, the sums of auction and bidder ids).
 * 2. The proxy against KafkaJS directly: N records (the same JSON) produced through
 *    `POST /topics/{t}` in batches against a KafkaJS producer's `send` with the same batches
 *    and the same number in flight, each into a fresh topic; and the input topic read through
 *    a consumer instance (GET .../records until N) against a KafkaJS consumer (eachBatch).
 * 3. Added latency per push in workerd: the example worker (adapters/edge/example) bundled with
 *    esbuild as the tests bundle it, in Miniflare; `POST /topics/clicks` with a JSON array of a
 *    few clicks, against the same records posted by this process straight to the proxy
 *    (`POST /topics/clicks`, binary, as the worker sends them), interleaved, a few hundred of
 *    each after a warm-up; plus `GET /health` of the worker (the Node-to-workerd round trip).
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Admin, Kafka, logLevel as kafkaLogLevel, type Message, type Producer } from "kafkajs";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "../adapters/edge/index.js";
import { type Job, type RunOptions, run } from "../core/index.js";
import { generateNexmark, type NexmarkEvent } from "../core/testing.js";
import { bundleWorker } from "../test/infra/bundle-worker.js";
import { type ProxyProcess, startProxy } from "../test/kafka/rest-proxy-helpers.js";
import { cpuSeconds, moveOffOurCpu, startBroker, systemTicks } from "./kafka.js";
import { EURO_RATE, type Q1Result, q1 } from "./nexmark/queries.js";

export interface EdgeBenchOptions {
  /** Input events of q1 (all kinds; q1 keeps the bids, 46 of every 50), and records of part 2. */
  events: number;
  quick: boolean;
  /** Timed runs of each path in parts 1 and 2 (default 2), best kept, alternating order. */
  rounds?: number;
  /** Push requests of each kind in part 3 (default 300, quick 200). */
  requests?: number;
  /** The engine's `maxBatch` (records per partition per poll); default JobRunner's (10 000). */
  maxBatch?: number;
  /** The engine's `checkpointInterval` (ms); default JobRunner's (+Infinity: one per runFor step). */
  checkpointInterval?: number;
  /** RestProxyBroker's `produceBytes` (bytes of records per produce request); default its own (4 MiB). */
  produceBytes?: number;
  /** CPUs for the proxy (a taskset list); default: off this process's CPU, as the broker. */
  proxyCpus?: string;
  /** The proxy's producer (`rivulet proxy --producer`); default its own (KafkaJS). */
  proxyProducer?: "kafkajs" | "platformatic";
  /** Part 1's paths (default both; one alone only with {@link edgeQ1Bench}, for profiling). */
  q1Paths?: Q1Name[];
}

/** HTTP calls a run made, by kind: how many, and the time to their response headers. */
export type HttpCalls = Record<string, { count: number; ms: number }>;

export interface EdgeRun {
  /** events/s (part 1) or records/s (part 2). */
  eps: number;
  ms: number;
  /**
   * Of `ms`: q1, until the job started or the raw loop's consumer instance was made and assigned;
   * fetch, until the first records arrived; produce, null.
   */
  startup_ms: number | null;
  /** This Node process's CPU time over `ms`, in cores. */
  client_cpu: number;
  /** The proxy process's. */
  proxy_cpu: number | null;
  /** The broker's JVM (null when the broker is external). */
  broker_cpu: number | null;
  machine_busy: number | null;
  /** Every round's figure (the best is `eps`). */
  samples: number[];
  /** REST calls (part 1 and the proxy's side of part 2). */
  http?: HttpCalls;
  /** Fetch: records/s after the first records came (no group join, no first fetch wait). */
  steady_eps?: number;
  /** Part 1: output records read back. */
  outputs?: number;
  /**
   * Part 1, engine: the job's polls of its RestProxyConsumer (each followed by a commit: outputs
   * written, and with the default checkpointInterval a checkpoint and an offset commit).
   */
  polls?: { count: number; records_per_poll: number; partitions_per_poll: number; checkpoints: number };
}

export interface Latency {
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
}

export interface EdgeBenchResult {
  q1_engine_eps: number;
  q1_raw_rest_eps: number;
  q1_engine_vs_raw: number;
  proxy_produce_rps: number;
  kafkajs_produce_rps: number;
  proxy_produce_vs_kafkajs: number;
  proxy_fetch_rps: number;
  kafkajs_fetch_rps: number;
  proxy_fetch_vs_kafkajs: number;
  push_added_p50_ms: number;
  push_added_p99_ms: number;
  events: number;
  partitions: number;
  expected_outputs: number;
  input_bytes: number;
  max_batch: number | null;
  checkpoint_interval_ms: number | null;
  produce_bytes: number | null;
  broker: string;
  proxy: string;
  notes: string;
  q1: { engine: EdgeRun; raw: EdgeRun };
  produce: { proxy: EdgeRun; kafkajs: EdgeRun; batch: number; in_flight: number };
  fetch: { proxy: EdgeRun; kafkajs: EdgeRun; max_bytes: number };
  push: {
    requests: number;
    records_per_request: number;
    body_bytes: number;
    /** The example worker in workerd: POST /topics/clicks (through the proxy). */
    workerd_push: Latency;
    /** The same records, POSTed by Node straight to the proxy. */
    direct_proxy_post: Latency;
    /** The worker's GET /health: the Node-to-workerd round trip with no work. */
    workerd_health: Latency;
    added_p50_ms: number;
    added_p99_ms: number;
  };
}

const PARTITIONS = 6;
const WARMUP_EVENTS = 10_000;
/** What RestProxyBroker asks a fetch for by default (its `fetchTimeout` and `fetchBytes`). */
const FETCH_TIMEOUT = 500;
const FETCH_BYTES = 4 * 1024 * 1024;
/** A runFor as an edge pull does it (the example worker's step). */
const STEP_MS = 20_000;
const PRODUCE_BATCH = 2_000;
const PRODUCE_IN_FLIGHT = 4;
const PUSH_RECORDS = 10;
const PUSH_WARMUP = 30;
const SEED = 42;
const TOKEN = "bench-edge-token-0123456789";

const V2 = "application/vnd.kafka.v2+json";
const BINARY = "application/vnd.kafka.binary.v2+json";

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const b64 = (s: string) => Buffer.from(s).toString("base64");
const fmt = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}K` : x.toFixed(0);
const pct = (x: number | null) => (x === null ? "?" : `${Math.round(x * 100)}%`);
const round3 = (x: number) => Number(x.toFixed(3));

interface Input {
  topic: string;
  events: number;
  bids: number;
  auctionSum: number;
  bidderSum: number;
  bytes: number;
  /** The events as JSON, in order (part 2 produces them again). */
  json: string[];
  timestamps: number[];
}

// ---------------------------------------------------------------------------------------------
// HTTP, counted.

/** `fetch`, counting calls by kind and the time to their response headers. */
function countingFetch(calls: HttpCalls) {
  return async (input: Request | string, init?: RequestInit): Promise<Response> => {
    const req = typeof input === "string" ? undefined : input;
    const method = req?.method ?? init?.method ?? "GET";
    const path = new URL(req?.url ?? (input as string)).pathname;
    const kind = `${method} ${callKind(path)}`;
    const t = now();
    try {
      return await (req ? fetch(req) : fetch(input as string, init));
    } finally {
      const c = (calls[kind] ??= { count: 0, ms: 0 });
      c.count++;
      c.ms += now() - t;
    }
  };
}

/** A v2 path as its resource: `/consumers/{g}/instances/{i}/records` -> `instance/records`. */
function callKind(path: string): string {
  const p = path.split("/").filter(Boolean);
  if (p[0] === "topics")
    return p.length === 2 ? "topic" : `topic/${p.slice(2).join("/").replace(/\d+/g, "n")}`;
  if (p[0] === "consumers") return p.length === 2 ? "consumers" : `instance${p[4] ? `/${p[4]}` : ""}`;
  return p.join("/");
}

function roundCalls(calls: HttpCalls): HttpCalls {
  const out: HttpCalls = {};
  for (const [k, v] of Object.entries(calls).sort()) out[k] = { count: v.count, ms: Math.round(v.ms) };
  return out;
}

/** One plain REST call (the raw loop's and part 2's): the parsed JSON answer, or an error. */
async function rest<T>(
  f: ReturnType<typeof countingFetch>,
  base: string,
  method: string,
  path: string,
  body?: string,
  contentType = V2,
  accept = V2,
): Promise<T> {
  const headers: Record<string, string> = { accept };
  if (body !== undefined) headers["content-type"] = contentType;
  const res = await f(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: the proxy answered ${res.status}: ${text.slice(0, 300)}`);
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

function checkProduced(
  res: { offsets: { error_code: number | null; error: string | null }[] },
  what: string,
) {
  const bad = res.offsets.find((o) => o.error_code !== null);
  if (bad) throw new Error(`${what}: a record failed: ${bad.error}`);
}

// ---------------------------------------------------------------------------------------------
// Topics.

async function createTopic(admin: Admin, prefix: string, partitions = PARTITIONS): Promise<string> {
  const topic = uniq(prefix);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  return topic;
}

/** N events as JSON into a fresh topic, round robin over its partitions, with KafkaJS. */
async function produceInput(kafka: Kafka, admin: Admin, n: number, prefix: string): Promise<Input> {
  const topic = await createTopic(admin, prefix);
  const input: Input = {
    topic,
    events: n,
    bids: 0,
    auctionSum: 0,
    bidderSum: 0,
    bytes: 0,
    json: [],
    timestamps: [],
  };
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const CHUNK = 12_000;
  try {
    const inFlight = new Set<Promise<unknown>>();
    for (let start = 0; start < n; start += CHUNK) {
      const events: NexmarkEvent[] = generateNexmark({ seed: SEED }, Math.min(CHUNK, n - start), start);
      const messages: Message[] = events.map((e, i) => {
        if (e.kind === "bid") {
          input.bids++;
          input.auctionSum += e.bid.auction;
          input.bidderSum += e.bid.bidder;
        }
        const value = JSON.stringify(e);
        input.bytes += value.length;
        input.json.push(value);
        input.timestamps.push(e.timestamp);
        return { value, partition: (start + i) % PARTITIONS, timestamp: String(e.timestamp) };
      });
      const p = producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => {});
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  const total = (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
  if (total !== n) throw new Error(`input ${topic}: ${total} records, want ${n}`);
  return input;
}

async function endOffsetsSum(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
}

/** Reads `topic` to its end with KafkaJS: records, and the sums of their auction and bidder ids. */
async function readBack(kafka: Kafka, admin: Admin, topic: string, timeoutMs: number) {
  const total = await endOffsetsSum(admin, topic);
  const consumer = kafka.consumer({ groupId: uniq("bench-edge-reader"), maxWaitTimeInMs: 100 });
  const got = { count: 0, auctionSum: 0, bidderSum: 0 };
  const deadline = now() + timeoutMs;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
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
    while (got.count < total) {
      if (now() > deadline) throw new Error(`reading back ${topic}: ${got.count} of ${total} records`);
      await sleep(50);
    }
    return got;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Timing.

interface Ctx {
  kafka: Kafka;
  admin: Admin;
  proxy: ProxyProcess;
  brokerPid: number | undefined;
}

interface Measured {
  /** Until the consumer was made and assigned (or the job started). */
  startupMs?: number;
  http?: HttpCalls;
  /** Fetch: when (performance.now()) the first records came, and how many. */
  first?: { at: number; records: number };
}

/** Runs `body`, measuring wall time and the CPU time of this process, the proxy and the broker. */
async function measure(ctx: Ctx, count: number, body: (t0: number) => Promise<Measured>): Promise<EdgeRun> {
  (globalThis as { gc?: () => void }).gc?.();
  const proxyPid = ctx.proxy.child.pid;
  const cpu0 = process.cpuUsage();
  const proxy0 = cpuSeconds(proxyPid);
  const broker0 = cpuSeconds(ctx.brokerPid);
  const sys0 = systemTicks();
  const t0 = now();
  const m = await body(t0);
  const t1 = now();
  const ms = t1 - t0;
  const cpu = process.cpuUsage(cpu0);
  const proxy1 = cpuSeconds(proxyPid);
  const broker1 = cpuSeconds(ctx.brokerPid);
  const sys1 = systemTicks();
  const share = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : Number((((b - a) * 1000) / ms).toFixed(2));
  const eps = Math.round((count / ms) * 1000);
  const r: EdgeRun = {
    eps,
    ms: Math.round(ms),
    startup_ms: m.startupMs === undefined ? null : Math.round(m.startupMs),
    client_cpu: Number(((cpu.user + cpu.system) / 1000 / ms).toFixed(2)),
    proxy_cpu: share(proxy0, proxy1),
    broker_cpu: share(broker0, broker1),
    machine_busy:
      sys0 && sys1 && sys1.total > sys0.total
        ? Number(((sys1.busy - sys0.busy) / (sys1.total - sys0.total)).toFixed(2))
        : null,
    samples: [eps],
  };
  if (m.http) r.http = roundCalls(m.http);
  if (m.first && t1 > m.first.at)
    r.steady_eps = Math.round(((count - m.first.records) / (t1 - m.first.at)) * 1000);
  return r;
}

/** Keeps the best run of a path, every round's figure in `samples`. */
function keepBest<K extends string>(runs: Partial<Record<K, EdgeRun>>, what: K, r: EdgeRun): void {
  const prev = runs[what];
  if (prev) r.samples = [...prev.samples, r.eps];
  if (!prev || r.eps > prev.eps) runs[what] = r;
  else prev.samples = r.samples;
}

// ---------------------------------------------------------------------------------------------
// Part 1: q1 end to end through the proxy.

/** Instrumentation only: counts the polls of the broker's consumers, their records and partitions. */
function instrumentPolls(
  broker: RestProxyBroker,
  polls: { count: number; records: number; batches: number },
) {
  const make = broker.consumer.bind(broker);
  broker.consumer = async (options) => {
    const c = await make(options);
    const poll = c.poll.bind(c);
    c.poll = async (o) => {
      const batches = await poll(o);
      polls.count++;
      polls.batches += batches.length;
      for (const b of batches) polls.records += b.end - b.start;
      return batches;
    };
    return c;
  };
}

type Q1Name = "raw" | "engine";

type Q1Path = (ctx: Ctx, input: Input, output: string, group: string) => Promise<EdgeRun>;

/** q1 on Rivulet: RestProxyBroker, a KeyValueStateStore in memory, runFor until every event is read. */
function engineQ1(extra: Partial<RunOptions>, produceBytes: number | undefined): Q1Path {
  return async (ctx, input, output, group) => {
    let job: Job | undefined;
    let broker: RestProxyBroker | undefined;
    const http: HttpCalls = {};
    const polls = { count: 0, records: 0, batches: 0 };
    const deadline = now() + Math.max(60_000, input.events * 2);
    try {
      const r = await measure(ctx, input.events, async (t0) => {
        broker = new RestProxyBroker({
          url: ctx.proxy.url,
          fetch: countingFetch(http),
          ...(produceBytes ? { produceBytes } : {}),
        });
        instrumentPolls(broker, polls);
        job = await run(q1(input.topic, output), {
          ...extra,
          broker,
          state: new KeyValueStateStore(memoryStorage()),
          group,
          manual: true,
        });
        const startupMs = now() - t0;
        let read = 0;
        while (read < input.events) {
          if (now() > deadline) throw new Error(`engine: read ${read} of ${input.events} events in time`);
          read += (await job.runFor({ maxRecords: input.events - read, maxMs: STEP_MS })).records;
        }
        return { startupMs, http };
      });
      const m = job!.metrics().records;
      if (m.in !== input.events)
        throw new Error(`engine: the job read ${m.in} records, want ${input.events}`);
      r.polls = {
        count: polls.count,
        records_per_poll: Math.round(polls.records / Math.max(1, polls.count)),
        partitions_per_poll: Number((polls.batches / Math.max(1, polls.count)).toFixed(2)),
        checkpoints: job!.metrics().checkpoints.count,
      };
      return r;
    } finally {
      await job?.stop().catch(() => {});
      await broker?.close().catch(() => {});
    }
  };
}

/** The same REST calls by hand: fetch, decode, keep bids, project, produce, commit. */
const rawQ1: Q1Path = async (ctx, input, output, group) => {
  const http: HttpCalls = {};
  const f = countingFetch(http);
  const base = ctx.proxy.url;
  let instance: string | undefined;
  const deadline = now() + Math.max(60_000, input.events * 2);
  try {
    return await measure(ctx, input.events, async (t0) => {
      const created = await rest<{ instance_id: string }>(
        f,
        base,
        "POST",
        `/consumers/${group}`,
        JSON.stringify({ format: "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false" }),
      );
      instance = `/consumers/${group}/instances/${created.instance_id}`;
      const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
        topic: input.topic,
        partition,
      }));
      await rest(f, base, "POST", `${instance}/assignments`, JSON.stringify({ partitions }));
      const startupMs = now() - t0;
      let read = 0;
      while (read < input.events) {
        if (now() > deadline) throw new Error(`raw: read ${read} of ${input.events} events in time`);
        const records = await rest<{ partition: number; offset: number; value: string }[]>(
          f,
          base,
          "GET",
          `${instance}/records?timeout=${FETCH_TIMEOUT}&max_bytes=${FETCH_BYTES}`,
          undefined,
          V2,
          BINARY,
        );
        if (records.length === 0) continue;
        const out: { key: null; value: string; timestamp: number }[] = [];
        const next = new Map<number, number>();
        for (const r of records) {
          next.set(r.partition, r.offset + 1);
          const e = JSON.parse(Buffer.from(r.value, "base64").toString()) as NexmarkEvent;
          if (e.kind !== "bid") continue;
          const b = e.bid;
          const q: Q1Result = {
            auction: b.auction,
            bidder: b.bidder,
            price: EURO_RATE * b.price,
            dateTime: b.dateTime,
            extra: b.extra,
          };
          out.push({ key: null, value: b64(JSON.stringify(q)), timestamp: e.timestamp });
        }
        if (out.length > 0)
          checkProduced(
            await rest(f, base, "POST", `/topics/${output}`, JSON.stringify({ records: out }), BINARY),
            "raw",
          );
        const offsets = [...next].map(([partition, offset]) => ({ topic: input.topic, partition, offset }));
        await rest(f, base, "POST", `${instance}/offsets`, JSON.stringify({ offsets }));
        read += records.length;
      }
      return { startupMs, http };
    });
  } finally {
    if (instance) await rest(fetch, base, "DELETE", instance).catch(() => {});
  }
};

async function timedQ1(ctx: Ctx, what: string, input: Input, path: Q1Path): Promise<EdgeRun> {
  const output = await createTopic(ctx.admin, `bench-edge-${what}-out`);
  const r = await path(ctx, input, output, uniq(`bench-edge-${what}`));
  const got = await readBack(ctx.kafka, ctx.admin, output, 120_000);
  if (got.count !== input.bids || got.auctionSum !== input.auctionSum || got.bidderSum !== input.bidderSum)
    throw new Error(
      `${what}: the output holds ${got.count} records (auction ids sum to ${got.auctionSum}, bidder ids to ` +
        `${got.bidderSum}), want ${input.bids} (${input.auctionSum}, ${input.bidderSum})`,
    );
  r.outputs = got.count;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Part 2: produce and fetch, the proxy against KafkaJS.

/** Runs `send(i)` for i < n with at most `inFlight` at once. */
async function pipelined(n: number, inFlight: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

async function proxyProduce(ctx: Ctx, input: Input): Promise<EdgeRun> {
  const topic = await createTopic(ctx.admin, "bench-edge-produce");
  // The request bodies, made before the clock starts (as KafkaJS's messages are).
  const bodies: string[] = [];
  for (let i = 0; i < input.events; i += PRODUCE_BATCH) {
    const records = [];
    for (let j = i; j < Math.min(i + PRODUCE_BATCH, input.events); j++)
      records.push({ key: null, value: b64(input.json[j]!), timestamp: input.timestamps[j]! });
    bodies.push(JSON.stringify({ records }));
  }
  const http: HttpCalls = {};
  const f = countingFetch(http);
  const r = await measure(ctx, input.events, async () => {
    await pipelined(bodies.length, PRODUCE_IN_FLIGHT, async (i) => {
      checkProduced(
        await rest(f, ctx.proxy.url, "POST", `/topics/${topic}`, bodies[i], BINARY),
        "proxy produce",
      );
    });
    return { http };
  });
  const n = await endOffsetsSum(ctx.admin, topic);
  if (n !== input.events) throw new Error(`proxy produce: ${n} records in ${topic}, want ${input.events}`);
  return r;
}

async function kafkajsProduce(ctx: Ctx, producer: Producer, input: Input): Promise<EdgeRun> {
  const topic = await createTopic(ctx.admin, "bench-edge-produce");
  const batches: Message[][] = [];
  for (let i = 0; i < input.events; i += PRODUCE_BATCH) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(i + PRODUCE_BATCH, input.events); j++)
      messages.push({ key: null, value: input.json[j]!, timestamp: String(input.timestamps[j]!) });
    batches.push(messages);
  }
  const r = await measure(ctx, input.events, async () => {
    await pipelined(batches.length, PRODUCE_IN_FLIGHT, async (i) => {
      await producer.send({ topic, messages: batches[i]!, acks: -1 });
    });
    return {};
  });
  const n = await endOffsetsSum(ctx.admin, topic);
  if (n !== input.events) throw new Error(`kafkajs produce: ${n} records in ${topic}, want ${input.events}`);
  return r;
}

/** The input through a consumer instance: GET .../records until every record is in, values decoded. */
async function proxyFetch(ctx: Ctx, input: Input): Promise<EdgeRun> {
  const http: HttpCalls = {};
  const f = countingFetch(http);
  const base = ctx.proxy.url;
  const group = uniq("bench-edge-fetch");
  let instance: string | undefined;
  const deadline = now() + Math.max(60_000, input.events * 2);
  try {
    return await measure(ctx, input.events, async (t0) => {
      const created = await rest<{ instance_id: string }>(
        f,
        base,
        "POST",
        `/consumers/${group}`,
        JSON.stringify({ format: "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false" }),
      );
      instance = `/consumers/${group}/instances/${created.instance_id}`;
      const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
        topic: input.topic,
        partition,
      }));
      await rest(f, base, "POST", `${instance}/assignments`, JSON.stringify({ partitions }));
      let first: Measured["first"];
      let read = 0;
      let bytes = 0;
      while (read < input.events) {
        if (now() > deadline) throw new Error(`proxy fetch: ${read} of ${input.events} records in time`);
        const records = await rest<{ value: string }[]>(
          f,
          base,
          "GET",
          `${instance}/records?timeout=${FETCH_TIMEOUT}&max_bytes=${FETCH_BYTES}`,
          undefined,
          V2,
          BINARY,
        );
        for (const r of records) bytes += Buffer.from(r.value, "base64").length;
        if (records.length > 0) first ??= { at: now(), records: records.length };
        read += records.length;
      }
      if (read !== input.events || bytes !== input.bytes)
        throw new Error(
          `proxy fetch: ${read} records (${bytes} bytes), want ${input.events} (${input.bytes})`,
        );
      return first === undefined ? { http } : { startupMs: first.at - t0, first, http };
    });
  } finally {
    if (instance) await rest(fetch, base, "DELETE", instance).catch(() => {});
  }
}

async function kafkajsFetch(ctx: Ctx, input: Input): Promise<EdgeRun> {
  let consumer: ReturnType<Kafka["consumer"]> | undefined;
  const deadline = now() + Math.max(60_000, input.events * 2);
  try {
    return await measure(ctx, input.events, async (t0) => {
      const c = (consumer = ctx.kafka.consumer({
        groupId: uniq("bench-edge-fetch"),
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 250,
      }));
      let read = 0;
      let bytes = 0;
      let first: Measured["first"];
      let all!: () => void;
      const done = new Promise<void>((r) => (all = r));
      await c.connect();
      await c.subscribe({ topics: [input.topic], fromBeginning: true });
      await c.run({
        autoCommit: false,
        partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) bytes += m.value!.length;
          first ??= { at: now(), records: batch.messages.length };
          read += batch.messages.length;
          if (read >= input.events) all();
        },
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        done,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`kafkajs fetch: ${read} of ${input.events} records in time`)),
            deadline - now(),
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (read !== input.events || bytes !== input.bytes)
        throw new Error(
          `kafkajs fetch: ${read} records (${bytes} bytes), want ${input.events} (${input.bytes})`,
        );
      return first === undefined ? {} : { startupMs: first.at - t0, first };
    });
  } finally {
    await consumer?.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Part 3: push latency in workerd.

function latency(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const r = (x: number) => Number(x.toFixed(2));
  return {
    p50_ms: r(at(0.5)),
    p99_ms: r(at(0.99)),
    mean_ms: r(s.reduce((a, b) => a + b, 0) / s.length),
    min_ms: r(s[0]!),
    max_ms: r(s[s.length - 1]!),
  };
}

async function pushLatency(
  ctx: Ctx,
  requests: number,
  log: (s: string) => void,
): Promise<EdgeBenchResult["push"]> {
  const { Miniflare } = await import("miniflare");
  const topics = {
    clicks: await createTopic(ctx.admin, "bench-edge-clicks", 2),
    perMinute: uniq("bench-edge-per-minute"),
    late: uniq("bench-edge-late"),
  };
  const dir = await mkdtemp(join(tmpdir(), "rivulet-bench-edge-"));
  let mf: InstanceType<typeof Miniflare> | undefined;
  try {
    let t = now();
    const script = join(dir, "worker.mjs");
    await bundleWorker("adapters/edge/example/worker.ts", script);
    mf = new Miniflare({
      modules: true,
      scriptPath: script,
      modulesRoot: dir,
      compatibilityDate: "2024-09-23",
      durableObjects: { CLICKS_JOB: "ClicksJob" },
      bindings: {
        KAFKA_REST_URL: ctx.proxy.url,
        API_TOKEN: TOKEN,
        TOPICS: JSON.stringify(topics),
        GROUP: uniq("bench-edge-clicks"),
      },
    });
    await mf.ready;
    log(`the example worker bundled and started in workerd in ${((now() - t) / 1000).toFixed(1)} s`);
    const base = Date.now() - 3_600_000;
    let seq = 0;
    /** A JSON array of PUSH_RECORDS clicks, as a client pushes them, and the same as the proxy gets them. */
    const bodies = () => {
      const clicks = Array.from({ length: PUSH_RECORDS }, () => {
        const i = seq++;
        return { userId: `u${i % 16}`, kind: i % 7 === 0 ? "view" : "click", ts: base + i * 100 };
      });
      return {
        pushed: JSON.stringify(clicks.map((c) => ({ key: c.userId, value: c, timestamp: c.ts }))),
        direct: JSON.stringify({
          records: clicks.map((c) => ({
            key: b64(c.userId),
            value: b64(JSON.stringify(c)),
            timestamp: c.ts,
          })),
        }),
      };
    };
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const push = async (body: string) => {
      const t0 = now();
      const res = await mf!.dispatchFetch(`http://edge.test/topics/${topics.clicks}`, {
        method: "POST",
        body,
        headers,
      });
      const text = await res.text();
      const ms = now() - t0;
      if (res.status !== 200)
        throw new Error(`push: the worker answered ${res.status}: ${text.slice(0, 300)}`);
      return ms;
    };
    const direct = async (body: string) => {
      const t0 = now();
      const res = await fetch(`${ctx.proxy.url}/topics/${topics.clicks}`, {
        method: "POST",
        body,
        headers: { "content-type": BINARY, accept: V2 },
      });
      const text = await res.text();
      const ms = now() - t0;
      if (res.status !== 200)
        throw new Error(`direct post: the proxy answered ${res.status}: ${text.slice(0, 300)}`);
      checkProduced(JSON.parse(text), "direct post");
      return ms;
    };
    const health = async () => {
      const t0 = now();
      const res = await mf!.dispatchFetch("http://edge.test/health");
      await res.text();
      const ms = now() - t0;
      if (res.status !== 200) throw new Error(`health: the worker answered ${res.status}`);
      return ms;
    };
    const sample = bodies();
    for (let i = 0; i < PUSH_WARMUP; i++) {
      const b = i === 0 ? sample : bodies();
      await push(b.pushed);
      await direct(b.direct);
      await health();
    }
    t = now();
    const got = { push: [] as number[], direct: [] as number[], health: [] as number[] };
    // Interleaved: both see the same moments of a shared machine.
    for (let i = 0; i < requests; i++) {
      const b = bodies();
      got.push.push(await push(b.pushed));
      got.direct.push(await direct(b.direct));
      got.health.push(await health());
    }
    const written = await endOffsetsSum(ctx.admin, topics.clicks);
    const want = 2 * (requests + PUSH_WARMUP) * PUSH_RECORDS;
    if (written !== want) throw new Error(`push: ${written} records in ${topics.clicks}, want ${want}`);
    log(`${requests} pushes, direct posts and health checks each in ${((now() - t) / 1000).toFixed(1)} s`);
    const w = latency(got.push);
    const d = latency(got.direct);
    return {
      requests,
      records_per_request: PUSH_RECORDS,
      body_bytes: sample.pushed.length,
      workerd_push: w,
      direct_proxy_post: d,
      workerd_health: latency(got.health),
      added_p50_ms: Number((w.p50_ms - d.p50_ms).toFixed(2)),
      added_p99_ms: Number((w.p99_ms - d.p99_ms).toFixed(2)),
    };
  } finally {
    await mf?.dispose().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

/** Moves a process (every thread) to `cpus` (a taskset list); returns it, or undefined. */
function pinTo(pid: number, cpus: string): string | undefined {
  if (process.platform !== "linux" || !existsSync("/usr/bin/taskset")) return undefined;
  const r = spawnSync("/usr/bin/taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
  return r.status === 0 ? cpus : undefined;
}

const describeRun = (r: EdgeRun) =>
  `(${(r.ms / 1000).toFixed(2)} s; CPU: client ${pct(r.client_cpu)}, proxy ${pct(r.proxy_cpu)}, broker ${pct(r.broker_cpu)}, machine ${pct(r.machine_busy)} busy)`;

interface Setup {
  ctx: Ctx;
  producer: Producer;
  brokerWhere: string;
  proxyWhere: string;
  input: Input;
  warm: Input;
  /** Stops what the setup started. */
  close(): Promise<void>;
}

/** Finds or starts a broker, starts the proxy, produces the input and the warm-up input. */
async function setUp(options: EdgeBenchOptions, log: (s: string) => void): Promise<Setup> {
  const n = options.events;
  let t = now();
  const k = await startBroker();
  log(`${k.where} at ${k.bootstrap} (${((now() - t) / 1000).toFixed(1)} s)`);
  let proxy: ProxyProcess | undefined;
  const kafka = new Kafka({
    clientId: "bench-edge",
    brokers: [k.bootstrap],
    logLevel: kafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const close = async () => {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await proxy?.stop();
    await k.stop();
  };
  try {
    t = now();
    const producerArgs = options.proxyProducer ? ["--producer", options.proxyProducer] : [];
    proxy = await startProxy(k.bootstrap, ["--rate-limit", "0", "--log-level", "nothing", ...producerArgs]);
    const pid = proxy.child.pid;
    const moved =
      pid === undefined ? undefined : options.proxyCpus ? pinTo(pid, options.proxyCpus) : moveOffOurCpu(pid);
    const proxyWhere = `rivulet proxy (bin/rivulet.mjs proxy --rate-limit 0${producerArgs.map((a) => ` ${a}`).join("")}) at ${proxy.url}${moved ? `, on CPUs ${moved}` : ""}`;
    log(`${proxyWhere} (${((now() - t) / 1000).toFixed(1)} s)`);
    await Promise.all([admin.connect(), producer.connect()]);
    // The job's dead-letter topic (a REST proxy cannot create topics): created here, as a user would.
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: "rivulet-dlq", numPartitions: 1 }] });
    const ctx: Ctx = { kafka, admin, proxy, brokerPid: k.pid };
    t = now();
    const warmN = Math.min(WARMUP_EVENTS, n);
    const warm = await produceInput(kafka, admin, warmN, "bench-edge-warmup");
    const input = await produceInput(kafka, admin, n, "bench-edge-q1");
    log(
      `produced ${fmt(n)} events (${fmt(input.bids)} bids, ${(input.bytes / 1e6).toFixed(0)} MB of JSON) to ` +
        `${PARTITIONS} partitions, and ${fmt(warmN)} to warm up, in ${((now() - t) / 1000).toFixed(1)} s`,
    );
    return { ctx, producer, brokerWhere: k.where, proxyWhere, input, warm, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function checkOptions(options: EdgeBenchOptions): number {
  if (!Number.isInteger(options.events) || options.events < PARTITIONS)
    throw new Error(`edge bench: events must be an integer >= ${PARTITIONS}`);
  const rounds = options.rounds ?? 2;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error("edge bench: rounds must be a positive integer");
  return rounds;
}

/** Part 1: both q1 paths warmed up, then `rounds` rounds in alternating order; the best of each. */
async function q1Part(
  s: Setup,
  options: EdgeBenchOptions,
  rounds: number,
  log: (s: string) => void,
): Promise<Partial<Record<Q1Name, EdgeRun>>> {
  // As rivulet/edge's JobRunner (what an edge pull runs) sets them.
  const extra: Partial<RunOptions> = {
    maxBatch: options.maxBatch ?? 10_000,
    checkpointInterval: options.checkpointInterval ?? Number.POSITIVE_INFINITY,
  };
  const all: [Q1Name, Q1Path][] = [
    ["raw", rawQ1],
    ["engine", engineQ1(extra, options.produceBytes)],
  ];
  const q1Paths = all.filter(([what]) => (options.q1Paths ?? ["raw", "engine"]).includes(what));
  let t = now();
  for (const [what, path] of q1Paths) await timedQ1(s.ctx, what, s.warm, path);
  log(`warm-up: ${fmt(s.warm.events)} events through each q1 path in ${((now() - t) / 1000).toFixed(1)} s`);
  t = now();
  const q1Runs: Partial<Record<Q1Name, EdgeRun>> = {};
  for (let round = 0; round < rounds; round++)
    for (const [what, path] of round % 2 === 0 ? q1Paths : [...q1Paths].reverse()) {
      const r = await timedQ1(s.ctx, what, s.input, path);
      const calls = Object.entries(r.http ?? {})
        .map(([kind, c]) => `${c.count} ${kind}`)
        .join(", ");
      const polls = r.polls
        ? `; ${r.polls.count} polls of ${fmt(r.polls.records_per_poll)} records from ${r.polls.partitions_per_poll} partitions, ${r.polls.checkpoints} checkpoints`
        : "";
      log(`q1 ${what}: ${fmt(r.eps)} events/s ${describeRun(r)}; ${calls}${polls}`);
      keepBest(q1Runs, what, r);
    }
  return q1Runs;
}

/**
 * Part 1 alone (for exploring and profiling: `--q1-only`, and `--q1-paths=engine` for one path):
 * the same setup and runs as {@link edgeBench}'s.
 */
export async function edgeQ1Bench(options: EdgeBenchOptions): Promise<{
  q1_engine_eps: number | null;
  q1_raw_rest_eps: number | null;
  q1_engine_vs_raw: number | null;
  q1: Partial<Record<Q1Name, EdgeRun>>;
}> {
  const rounds = checkOptions(options);
  const log = (s: string) => console.error(`  edge: ${s}`);
  const s = await setUp(options, log);
  try {
    const q1 = await q1Part(s, options, rounds, log);
    return {
      q1_engine_eps: q1.engine?.eps ?? null,
      q1_raw_rest_eps: q1.raw?.eps ?? null,
      q1_engine_vs_raw: q1.engine && q1.raw ? round3(q1.engine.eps / q1.raw.eps) : null,
      q1,
    };
  } finally {
    await s.close();
  }
}

/**
 * Runs the edge benchmark: finds or starts a broker, starts the proxy, produces the input, runs
 * parts 1-3, checks every output, stops what it started.
 */
export async function edgeBench(options: EdgeBenchOptions): Promise<EdgeBenchResult> {
  const n = options.events;
  const rounds = checkOptions(options);
  const requests = options.requests ?? (options.quick ? 200 : 300);
  const log = (s: string) => console.error(`  edge: ${s}`);
  const began = now();
  let t = began;
  const s = await setUp(options, log);
  const { ctx, producer, input, warm, proxyWhere } = s;
  const warmN = warm.events;
  try {
    // Part 1.
    const q1 = await q1Part(s, { ...options, q1Paths: ["raw", "engine"] }, rounds, log);
    const engine = q1.engine!;
    const raw = q1.raw!;

    // Part 2.
    type P2 = "proxy_produce" | "kafkajs_produce" | "proxy_fetch" | "kafkajs_fetch";
    const p2Paths: [P2, (i: Input) => Promise<EdgeRun>][] = [
      ["proxy_produce", (i) => proxyProduce(ctx, i)],
      ["kafkajs_produce", (i) => kafkajsProduce(ctx, producer, i)],
      ["proxy_fetch", (i) => proxyFetch(ctx, i)],
      ["kafkajs_fetch", (i) => kafkajsFetch(ctx, i)],
    ];
    t = now();
    for (const [, path] of p2Paths) await path(warm);
    log(
      `warm-up: ${fmt(warmN)} records produced and fetched each way in ${((now() - t) / 1000).toFixed(1)} s`,
    );
    const p2Runs: Partial<Record<P2, EdgeRun>> = {};
    for (let round = 0; round < rounds; round++)
      for (const [what, path] of round % 2 === 0 ? p2Paths : [...p2Paths].reverse()) {
        const r = await path(input);
        const steady = r.steady_eps === undefined ? "" : `, ${fmt(r.steady_eps)}/s after the first records`;
        log(`${what}: ${fmt(r.eps)} records/s${steady} ${describeRun(r)}`);
        keepBest(p2Runs, what, r);
      }

    // Part 3.
    const push = await pushLatency(ctx, requests, log);
    log(
      `push in workerd p50 ${push.workerd_push.p50_ms} ms, p99 ${push.workerd_push.p99_ms} ms; direct to the proxy ` +
        `p50 ${push.direct_proxy_post.p50_ms} ms, p99 ${push.direct_proxy_post.p99_ms} ms; workerd /health p50 ` +
        `${push.workerd_health.p50_ms} ms`,
    );
    log(`done in ${((now() - began) / 1000).toFixed(0)} s`);

    const pp = p2Runs.proxy_produce!;
    const kp = p2Runs.kafkajs_produce!;
    const pf = p2Runs.proxy_fetch!;
    const kf = p2Runs.kafkajs_fetch!;
    return {
      q1_engine_eps: engine.eps,
      q1_raw_rest_eps: raw.eps,
      q1_engine_vs_raw: round3(engine.eps / raw.eps),
      proxy_produce_rps: pp.eps,
      kafkajs_produce_rps: kp.eps,
      proxy_produce_vs_kafkajs: round3(pp.eps / kp.eps),
      proxy_fetch_rps: pf.eps,
      kafkajs_fetch_rps: kf.eps,
      proxy_fetch_vs_kafkajs: round3(pf.eps / kf.eps),
      push_added_p50_ms: push.added_p50_ms,
      push_added_p99_ms: push.added_p99_ms,
      events: n,
      partitions: PARTITIONS,
      expected_outputs: input.bids,
      input_bytes: input.bytes,
      max_batch: options.maxBatch ?? null,
      checkpoint_interval_ms: options.checkpointInterval ?? null,
      produce_bytes: options.produceBytes ?? null,
      broker: s.brokerWhere,
      proxy: proxyWhere,
      notes:
        `q1 over ${n} Nexmark events (${input.bids} bids; JSON, ${PARTITIONS} partitions, produced with KafkaJS before timing), ` +
        `best of ${rounds} rounds (alternating order), every path warmed up on ${warmN} events first. ` +
        `engine: RestProxyBroker + KeyValueStateStore(memoryStorage()), runFor until all read (maxBatch ${options.maxBatch ?? "default"}, checkpointInterval ${options.checkpointInterval ?? "default"}, produceBytes ${options.produceBytes ?? "default"}); ` +
        `raw: create instance, assign, then GET records (timeout ${FETCH_TIMEOUT}, max_bytes ${FETCH_BYTES}), q1 in a loop (Buffer base64), ` +
        `one POST /topics per fetch, POST offsets; each timed from creating its client to the last commit's answer, outputs read back and checked. ` +
        `produce: ${n} records in batches of ${PRODUCE_BATCH}, ${PRODUCE_IN_FLIGHT} in flight, POST /topics (binary) vs KafkaJS send (acks all). ` +
        `fetch: the q1 input through a consumer instance (GET records, values base64-decoded) vs a KafkaJS consumer (eachBatch), from creation to the last record. ` +
        `push: ${requests} POST /topics/clicks of ${PUSH_RECORDS} clicks to the example worker in workerd (Miniflare), interleaved with the same records ` +
        `POSTed by Node straight to the proxy and a GET /health of the worker, after ${PUSH_WARMUP} of each.`,
      q1: { engine, raw },
      produce: { proxy: pp, kafkajs: kp, batch: PRODUCE_BATCH, in_flight: PRODUCE_IN_FLIGHT },
      fetch: { proxy: pf, kafkajs: kf, max_bytes: FETCH_BYTES },
      push,
    };
  } finally {
    await s.close();
  }
}

// Standalone: npx tsx bench/edge.ts [--quick] [--events=N] [--rounds=N] [--requests=N] [--max-batch=N]
//   [--checkpoint-interval=MS] [--produce-bytes=N] [--proxy-cpus=LIST] [--q1-only] [--q1-paths=raw,engine]
//   [--proxy-producer=kafkajs|platformatic]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes("--quick");
  const opts: EdgeBenchOptions = { events: Number(option("events") ?? (quick ? 30_000 : 200_000)), quick };
  if (option("rounds")) opts.rounds = Number(option("rounds"));
  if (option("requests")) opts.requests = Number(option("requests"));
  if (option("max-batch")) opts.maxBatch = Number(option("max-batch"));
  if (option("checkpoint-interval")) opts.checkpointInterval = Number(option("checkpoint-interval"));
  if (option("proxy-cpus")) opts.proxyCpus = option("proxy-cpus")!;
  if (option("produce-bytes")) opts.produceBytes = Number(option("produce-bytes"));
  const producer = option("proxy-producer");
  if (producer === "kafkajs" || producer === "platformatic") opts.proxyProducer = producer;
  else if (producer !== undefined) throw new Error("--proxy-producer must be kafkajs or platformatic");
  if (option("q1-paths")) opts.q1Paths = option("q1-paths")!.split(",") as Q1Name[];
  const only = argv.includes("--q1-only") || opts.q1Paths !== undefined;
  console.log(JSON.stringify(only ? await edgeQ1Bench(opts) : await edgeBench(opts)));
}
