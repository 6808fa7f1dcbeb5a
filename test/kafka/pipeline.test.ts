// End to end: one windowed pipeline over the same 100 000 events, run on Kafka (KafkaBroker,
// exactly-once) and on the in-memory broker, must write the same records.
import { afterAll, describe, expect, inject, it } from "vitest";
import { KafkaBroker } from "../../adapters/node/index.js";
import {
  count,
  type JobMetrics,
  MemoryStateStore,
  Pipeline,
  type ProduceRecord,
  partitionForKey,
  run,
  tumbling,
} from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { kafkaAdmin, readTopic, uniq, until } from "./kafka-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "rivulet-e2e" });
afterAll(() => kafka.close());

interface Click {
  user: string;
  ts: number;
  n: number;
}

const N = 100_000;
const PARTITIONS = 3;
const STEP = 100; // ms of event time per event
// Recent event times: the broker deletes records older than its 7-day retention (time-based
// retention looks at record timestamps) and rejects ones more than an hour in the future.
const BASE = Math.floor((Date.now() - 2 * 86_400_000) / 60_000) * 60_000;
const WINDOW = 60_000;
const OUT_OF_ORDER = 5_000;
const LATENESS = 900_000;

/** mulberry32: a small seeded PRNG, so every run generates the same events. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Event i goes to partition i % 3 (its user is drawn from that partition's users), so every
 * partition advances through event time at the same pace and the interleaving of polls (up to
 * 1000 records per partition each) is the same on both brokers. Lateness depends on how far the
 * other partitions are, as in Flink, so the planted late records sit far from the bounds:
 * within-lateness ones 600 s back (windows long fired, never dropped), too-late ones 1500 s back.
 */
function events(): ProduceRecord[] {
  const rnd = random(42);
  const users: string[][] = [[], [], []];
  for (let u = 0; users.some((us) => us.length < 20); u++) {
    const name = `user-${u}`;
    const p = partitionForKey(name, PARTITIONS);
    if (users[p]!.length < 20) users[p]!.push(name);
  }
  const out: ProduceRecord[] = [];
  for (let i = 0; i < N; i++) {
    const p = i % PARTITIONS;
    const user = users[p]![Math.floor(rnd() * 20)]!;
    let ts = BASE + i * STEP - Math.floor(rnd() * (OUT_OF_ORDER - 1));
    if (i >= 6_000 && i % 997 === 0) ts = BASE + i * STEP - 600_000; // late, within the allowed lateness
    if (i >= 15_500 && i % 1_009 === 0) ts = BASE + i * STEP - 1_500_000; // too late: side output
    if (i >= 3_000 && i % 4_001 === 0) ts = BASE + i * STEP + 7_200_000; // beyond maxFutureSkew: dead letter
    const value: unknown = i >= 3_000 && i % 2_503 === 0 ? "{not json" : { user, ts, n: i };
    out.push({ key: user, value, timestamp: ts });
  }
  return out;
}

function pipeline(input: string, output: string, late: string): Pipeline {
  return Pipeline.source<Click>(input, {
    timestamp: (c) => c.ts,
    watermark: { maxOutOfOrderness: OUT_OF_ORDER, maxFutureSkew: 3_600_000 },
  })
    .keyBy((c) => c.user)
    .window(tumbling(WINDOW), { allowedLateness: LATENESS, lateTo: late })
    .aggregate(count())
    .to(output);
}

/** Comparable form of a record: values as JSON text (Kafka holds bytes, memory the values). */
function canonical(r: {
  partition: number;
  key: string | null;
  value: unknown;
  timestamp: number;
  headers?: Record<string, string>;
}): string {
  const value =
    r.value === null ? null : typeof r.value === "string" ? JSON.parse(r.value) : (r.value as unknown);
  const dlq = r.headers?.["rivulet.error.stage"]
    ? [
        r.headers["rivulet.error.stage"],
        r.headers["rivulet.error.reason"],
        r.headers["rivulet.source.offset"],
      ]
    : [];
  return JSON.stringify([r.partition, r.key, r.timestamp, value, ...dlq]);
}

/** Dead letters keep the raw value: a malformed one stays text. */
function canonicalDead(r: Parameters<typeof canonical>[0]): string {
  const text = typeof r.value === "string" ? r.value : JSON.stringify(r.value);
  return canonical({ ...r, value: JSON.stringify(text) });
}

const sorted = (xs: string[]) => [...xs].sort();

/** End offsets (read_committed) of a topic, by partition. */
async function endOffsets(topic: string): Promise<number[]> {
  const admin = kafkaAdmin(bootstrap);
  await admin.connect();
  try {
    const ends: number[] = [];
    for (const o of await admin.fetchTopicOffsets(topic)) ends[o.partition] = Number(o.high);
    return ends;
  } finally {
    await admin.disconnect();
  }
}

describe("the same pipeline on Kafka and in memory", () => {
  it("writes the same windows, late records and dead letters for 100 000 events", async () => {
    const input = events();
    const names = { input: uniq("clicks"), output: uniq("per-minute"), late: uniq("late"), dlq: uniq("dlq") };

    // In memory.
    const memory = new MemoryBroker();
    await memory.createTopic(names.input, { partitions: PARTITIONS });
    await memory.produce(names.input, input);
    const m0 = performance.now();
    const memJob = await run(pipeline(names.input, names.output, names.late), {
      broker: memory,
      deadLetterTopic: names.dlq,
    });
    await memJob.drain();
    const memoryMs = performance.now() - m0;

    // On Kafka: the same records, produced in one transaction (so offsets match too).
    await kafka.createTopic(names.input, { partitions: PARTITIONS });
    await kafka.commit({ records: input.map((r) => ({ ...r, topic: names.input })) });
    const k0 = performance.now();
    const kafkaJob = await run(pipeline(names.input, names.output, names.late), {
      broker: kafka,
      group: uniq("e2e"),
      deadLetterTopic: names.dlq,
    });
    const joinedMs = performance.now() - k0;
    await kafkaJob.drain();
    const kafkaMs = performance.now() - k0;

    const memOut = (await memory.records(names.output)).map(canonical);
    const memLate = (await memory.records(names.late)).map(canonical);
    const memDead = (await memory.records(names.dlq)).map(canonicalDead);
    const kafkaOut = (await readTopic(bootstrap, names.output, { min: memOut.length })).map(canonical);
    const kafkaLate = (await readTopic(bootstrap, names.late, { min: memLate.length })).map(canonical);
    const kafkaDead = (await readTopic(bootstrap, names.dlq, { min: memDead.length })).map(canonicalDead);

    const counts = (m: JobMetrics) => ({ ...m.records, windowsFired: m.windowsFired, produced: m.produced });
    expect(counts(kafkaJob.metrics())).toEqual(counts(memJob.metrics()));
    // The planted cases happened: late updates (refirings), too-late records, both dead-letter kinds.
    const mm = memJob.metrics();
    expect(mm.records.in).toBe(N);
    expect(mm.records.late).toBeGreaterThanOrEqual(4);
    expect(mm.records.deadLettered).toBeGreaterThanOrEqual(8);
    expect(mm.windowsFired).toBe(memOut.length);
    expect(memDead.some((d) => d.includes("deserialize"))).toBe(true);
    expect(memDead.some((d) => d.includes("maxFutureSkew"))).toBe(true);

    expect(sorted(kafkaOut)).toEqual(sorted(memOut));
    expect(sorted(kafkaLate)).toEqual(sorted(memLate));
    expect(sorted(kafkaDead)).toEqual(sorted(memDead));

    const rate = (ms: number) => Math.round((N / ms) * 1000);
    console.log(
      `[e2e] ${N} events -> ${memOut.length} windows, ${memLate.length} late, ${memDead.length} dead letters; ` +
        `memory ${memoryMs.toFixed(0)} ms (${rate(memoryMs)} records/s), ` +
        `Kafka exactly-once ${kafkaMs.toFixed(0)} ms (${rate(kafkaMs)} records/s; ${joinedMs.toFixed(0)} ms of it ` +
        `to start and join the group, then ${rate(kafkaMs - joinedMs)} records/s)`,
    );
  });
});

/** A group member with quick heartbeats, so rebalances settle fast. */
const member = (name: string) =>
  new KafkaBroker({
    brokers: [bootstrap],
    clientId: name,
    heartbeatInterval: 300,
    sessionTimeout: 6_000,
    logLevel: "nothing",
  });

describe("scale-out: two jobs in one consumer group", () => {
  it("share the partitions; state moves with them on rebalance; the output is exact", async () => {
    const n = 30_000;
    const input = uniq("scale-in");
    const output = uniq("scale-out");
    const group = uniq("scale");
    const records = Array.from({ length: n }, (_, i) => ({
      key: `user-${i % 50}`,
      value: { user: `user-${i % 50}`, n: i },
      timestamp: BASE + i,
    }));
    // A running count per key: watermark-free, so any split of partitions gives the same output.
    const counts = (out: string) =>
      Pipeline.source<{ user: string; n: number }>(input)
        .keyBy((v) => v.user)
        .aggregate(count())
        .to(out);

    const memory = new MemoryBroker();
    await memory.createTopic(input, { partitions: 6 });
    await memory.produce(input, records);
    const memJob = await run(counts(output), { broker: memory });
    await memJob.drain();
    const expected = (await memory.records(output)).map((r) => `${r.key} ${JSON.stringify(r.value)}`).sort();

    await kafka.createTopic(input, { partitions: 6 });
    const produce = (rs: typeof records) =>
      kafka.commit({ records: rs.map((r) => ({ ...r, topic: input })) });
    await produce(records.slice(0, n / 2));
    const [a, b] = [member("scale-a"), member("scale-b")];
    const state = new MemoryStateStore();
    // Checkpoints every 100 ms, not every batch: a rebalance may find uncommitted records.
    const options = { group, state, checkpointInterval: 500, maxBatch: 50 };
    try {
      const jobA = await run(counts(output), { broker: a, ...options });
      await new Promise((r) => setTimeout(r, 200));
      const jobB = await run(counts(output), { broker: b, ...options });
      const shares = () => [jobA.metrics().partitions.length, jobB.metrics().partitions.length];
      await until(
        () => {
          const [x, y] = shares();
          return x! + y! === 6 && x! > 0 && y! > 0;
        },
        "both members hold partitions",
        30_000,
      );
      // The second half is processed by both members, each continuing the counts of its keys.
      await produce(records.slice(n / 2));
      // The input ends with a transaction marker: the last record is at the end offset - 2.
      const ends = await endOffsets(input);
      await until(
        async () => {
          const committed = await kafka.committed(group, input);
          return ends.every((end, p) => (committed.find((c) => c.partition === p)?.offset ?? 0) >= end - 1);
        },
        "every input record is committed",
        30_000,
      );
      await Promise.all([jobA.stop(), jobB.stop()]);
      expect(jobA.metrics().records.in).toBeGreaterThan(0);
      expect(jobB.metrics().records.in).toBeGreaterThan(0);

      // Up to 45 s: once, on a loaded machine, only 15,300 of the 30,000 outputs were readable
      // (read_committed) after 20 s, as if a transaction left open at a rebalance held a partition
      // until the broker aborted it (10 s timeout, checked every 10 s). Under investigation; the
      // output must still be exact.
      const got = (await readTopic(bootstrap, output, { min: expected.length, timeoutMs: 45_000 })).map(
        (r) => `${r.key} ${r.value}`,
      );
      expect(got.length).toBe(expected.length);
      expect(got.sort()).toEqual(expected);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("outputs a timer made since the last checkpoint are written once when its partition moves", async () => {
    const input = uniq("timers-in");
    const output = uniq("timers-out");
    const group = uniq("timers");
    await kafka.createTopic(input, { partitions: 6 });
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    await kafka.commit({
      records: users.map((u, i) => ({ topic: input, key: u, value: { user: u, n: i }, timestamp: BASE + i })),
    });
    // A processing-time timer 1.5 s after each record: its output exists only in the job's
    // buffer until the next checkpoint, 60 s away, and no record is uncommitted by then.
    const reminders = () =>
      Pipeline.source<{ user: string; n: number }>(input)
        .keyBy((v) => v.user)
        .process<string>({
          onRecord(_v, ctx) {
            ctx.timers.processingTime(ctx.now() + 1_500);
          },
          onTimer(_t, ctx) {
            ctx.emit(`reminded ${ctx.key}`);
          },
        })
        .to(output);
    const [a, b] = [member("timers-a"), member("timers-b")];
    const options = { group, state: new MemoryStateStore(), checkpointInterval: 60_000 };
    try {
      const jobA = await run(reminders(), { broker: a, ...options });
      await jobA.checkpoint(); // the records are committed, their timers not fired yet
      const deadline = Date.now() + 30_000;
      while (jobA.metrics().produced[output] !== users.length) {
        if (Date.now() > deadline) throw new Error("the timers did not fire");
        await new Promise((r) => setTimeout(r, 20));
      }
      // B joins: half the partitions move, with timers A fired but has not committed.
      const jobB = await run(reminders(), { broker: b, ...options });
      while (jobB.metrics().partitions.length === 0) {
        if (Date.now() > deadline) throw new Error("B got no partitions");
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 2_000)); // B's own timers, if it restored any, fire
      await Promise.all([jobA.stop(), jobB.stop()]);
      const got = (await readTopic(bootstrap, output)).map((r) => r.value).sort();
      expect(got).toEqual(users.map((u) => `reminded ${u}`).sort());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a long checkpointInterval does not stall the job: it checkpoints once the consumer can fetch no more", async () => {
    const input = uniq("interval-in");
    const output = uniq("interval-out");
    const group = uniq("interval");
    await kafka.createTopic(input, { partitions: 1 });
    // ~4 MB on one partition: several of KafkaJS's fetches (1 MiB per partition each), and it
    // fetches the next only once the job has committed the last.
    const pad = "x".repeat(300);
    const n = 12_000;
    await kafka.commit({
      records: Array.from({ length: n }, (_, i) => ({ topic: input, key: `k${i % 10}`, value: { i, pad } })),
    });
    const job = await run(
      Pipeline.source<{ i: number }>(input)
        .map((v) => v.i)
        .to(output),
      { broker: kafka, group, state: new MemoryStateStore(), checkpointInterval: 600_000 },
    );
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [c] = await kafka.committed(group, input);
        if ((c?.offset ?? 0) >= n) break;
        if (Date.now() > deadline) throw new Error(`committed ${c?.offset ?? 0} of ${n} within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(job.metrics().checkpoints.count).toBeGreaterThan(2);
    } finally {
      await job.stop();
    }
  });

  it("repartition: two members count by a key that is not the record key; the output is one job's", async () => {
    const n = 20_000;
    const input = uniq("repart-in");
    const output = uniq("repart-out");
    const group = uniq("repart");
    const records = Array.from({ length: n }, (_, i) => ({
      key: `user-${i % 50}`,
      value: { user: `user-${i % 50}`, page: `page-${(i * 7) % 13}`, n: i },
      timestamp: BASE + i,
    }));
    type Visit = { user: string; page: string; n: number };
    const byPage = (out: string, repartition: boolean) => {
      const keyed = Pipeline.source<Visit>(input).keyBy((v) => v.page);
      return (repartition ? keyed.repartition() : keyed).aggregate(count()).to(out);
    };

    const memory = new MemoryBroker();
    await memory.createTopic(input, { partitions: 6 });
    await memory.produce(input, records);
    const memJob = await run(byPage(output, false), { broker: memory });
    await memJob.drain();
    const expected = (await memory.records(output)).map((r) => `${r.key} ${JSON.stringify(r.value)}`).sort();

    await kafka.createTopic(input, { partitions: 6 });
    await kafka.commit({ records: records.map((r) => ({ ...r, topic: input })) });
    const [a, b] = [member("repart-a"), member("repart-b")];
    const options = { group, state: new MemoryStateStore(), checkpointInterval: 200, maxBatch: 100 };
    try {
      const jobA = await run(byPage(output, true), { broker: a, ...options });
      const jobB = await run(byPage(output, true), { broker: b, ...options });
      const repartition = `${group}-repartition-0`;
      const deadline = Date.now() + 60_000;
      // Done when both the input and the repartition topic are read to their ends.
      for (;;) {
        const done = await Promise.all(
          [input, repartition].map(async (t) => {
            const ends = await endOffsets(t);
            const committed = await kafka.committed(group, t);
            return ends.every(
              (end, p) => end === 0 || (committed.find((c) => c.partition === p)?.offset ?? 0) >= end - 1,
            );
          }),
        );
        const m = [jobA.metrics().records.in, jobB.metrics().records.in];
        if (done.every(Boolean) && m[0]! + m[1]! >= 2 * n) break;
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(m)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all([jobA.stop(), jobB.stop()]);
      // Each record is read twice: from the input, then back from the repartition topic.
      expect(jobA.metrics().records.in + jobB.metrics().records.in).toBe(2 * n);
      const got = (await readTopic(bootstrap, output, { min: expected.length })).map(
        (r) => `${r.key} ${r.value}`,
      );
      expect(got.length).toBe(expected.length);
      expect(got.sort()).toEqual(expected);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("at-least-once on Kafka", () => {
  it("outputs carry a rivulet.id; a replay from older offsets writes the same records with the same ids", async () => {
    const alo = new KafkaBroker({
      brokers: [bootstrap],
      clientId: "rivulet-alo",
      guarantee: "at-least-once",
    });
    try {
      const input = uniq("alo-in");
      const output = uniq("alo-out");
      const group = uniq("alo-group");
      await alo.createTopic(input, { partitions: 2 });
      await alo.commit({
        records: Array.from({ length: 30 }, (_, i) => ({ topic: input, key: `k${i % 5}`, value: { i } })),
      });
      const p = () =>
        Pipeline.source<{ i: number }>(input)
          .flatMap((e) => (e.i % 3 === 0 ? [] : [e.i, -e.i]))
          .to(output);
      const first = await run(p(), { broker: alo, group, manual: true });
      expect(first.metrics()).toMatchObject({ guarantee: "at-least-once", protocol: "offsets" });
      await first.flush();
      await first.stop();
      // As if the process had died after writing its outputs and before its offsets landed.
      const admin = kafkaAdmin(bootstrap);
      await admin.connect();
      await admin.setOffsets({ groupId: group, topic: input, partitions: [{ partition: 0, offset: "0" }] });
      await admin.disconnect();
      const second = await run(p(), { broker: alo, group, manual: true });
      await second.flush();
      await second.stop();
      const got = await readTopic(bootstrap, output, { min: 40 });
      const firstOf = new Map<string, string>();
      let repeats = 0;
      for (const r of got) {
        const id = r.headers["rivulet.id"];
        expect(id).toMatch(new RegExp(`^${input}/[01]/\\d+\\.[01]$`));
        const body = JSON.stringify([r.key, r.value, r.timestamp]);
        if (firstOf.has(id!)) {
          repeats++;
          expect(body).toBe(firstOf.get(id!));
        } else firstOf.set(id!, body);
      }
      expect(firstOf.size).toBe(40); // 20 records kept, two outputs each
      expect(repeats).toBe(got.length - 40);
      expect(repeats).toBeGreaterThan(0); // partition 0 was read again
    } finally {
      await alo.close();
    }
  });
});
