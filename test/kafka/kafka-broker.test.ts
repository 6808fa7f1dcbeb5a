// KafkaBroker against a real Kafka 4.1 broker (started once for the `kafka` vitest project).
import { afterAll, describe, expect, inject, it } from "vitest";
import { KafkaBroker } from "../../adapters/node/index.js";
import type { KafkaConsumer } from "../../adapters/node/kafka-consumer.js";
import {
  batchRecords,
  type CommittedOffset,
  type Consumer,
  isRivuletError,
  Pipeline,
  partitionForKey,
  type RebalanceEvent,
  run,
  type StoredRecord,
} from "../../core/index.js";
import { kafkaAdmin, readTopic, uniq, until } from "./kafka-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const broker = new KafkaBroker({ brokers: [bootstrap], clientId: "rivulet-test" });
afterAll(() => broker.close());

/** Polls until `until(records)` holds; every record polled is returned. */
async function pollUntil(
  c: Consumer,
  until: (records: StoredRecord[]) => boolean,
  timeoutMs = 15_000,
): Promise<StoredRecord[]> {
  const got: StoredRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!until(got)) {
    if (Date.now() > deadline) throw new Error(`timed out with ${got.length} records`);
    for (const b of await c.poll({ maxRecords: 1000 })) got.push(...batchRecords(b));
  }
  return got;
}

const text = (v: unknown) => (v === null ? null : Buffer.from(v as Uint8Array).toString("utf8"));

describe("KafkaBroker topics", () => {
  it("creates topics (quietly when they exist), counts partitions, never auto-creates", async () => {
    const t = uniq("topics");
    await broker.createTopic(t, { partitions: 3 });
    await broker.createTopic(t, { partitions: 5 }); // exists: resolves, unchanged
    expect(await broker.partitions(t)).toBe(3);

    const missing = uniq("missing");
    expect(await broker.partitions(missing)).toBeUndefined();
    const admin = kafkaAdmin(bootstrap);
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(missing);
      const compact = uniq("changelog");
      await broker.createTopic(compact, { partitions: 2, compact: true });
      const cfg = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: compact, configNames: ["cleanup.policy"] }],
      });
      expect(cfg.resources[0]!.configEntries[0]!.configValue).toBe("compact");
      expect(await broker.partitions(compact)).toBe(2);
    } finally {
      await admin.disconnect();
    }
    await expect(broker.createTopic("bad name!")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(broker.createTopic(uniq("zero"), { partitions: 0 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

// Every produce path runs with both clients that can write: KafkaJS (the default) and @platformatic/kafka.
describe.each(["kafkajs", "platformatic"] as const)(
  "KafkaBroker produce and consume (producer: %s)",
  (producer) => {
    const broker = new KafkaBroker({ brokers: [bootstrap], clientId: `rivulet-test-${producer}`, producer });
    afterAll(() => broker.close());

    it("commit writes keys, values, headers and timestamps; a consumer reads them back, murmur2-partitioned", async () => {
      const t = uniq("records");
      await broker.createTopic(t, { partitions: 3 });
      // Recent: the broker's 7-day time retention deletes older records at its next check.
      const base = Date.now() - 86_400_000;
      const values: unknown[] = ["text", new Uint8Array([104, 105]), { n: 1, s: "ü" }, null];
      await broker.commit({
        records: Array.from({ length: 40 }, (_, i) => ({
          topic: t,
          key: `user-${i % 7}`,
          value: values[i % values.length],
          timestamp: base + i,
          headers: { "x-i": String(i), "x-src": "tést" },
        })),
      });
      await broker.commit({
        records: [{ topic: t, key: null, value: "unkeyed", partition: 2, timestamp: base }],
      });

      const c = await broker.consumer({ group: uniq("reader"), topics: [t] });
      const events: RebalanceEvent[] = [];
      c.onRebalance((e) => {
        events.push(e);
      });
      const got = await pollUntil(c, (rs) => rs.length >= 41);
      await c.close();

      expect(events).toHaveLength(1);
      expect(events[0]!.assigned.map((tp) => tp.partition)).toEqual([0, 1, 2]);
      expect(got).toHaveLength(41);
      const unkeyed = got.find((r) => r.key === null)!;
      expect([unkeyed.partition, text(unkeyed.value), unkeyed.timestamp]).toEqual([2, "unkeyed", base]);
      for (const r of got.filter((r) => r.key !== null)) {
        const i = Number(r.headers["x-i"]);
        expect(r.topic).toBe(t);
        expect(r.key).toBe(`user-${i % 7}`);
        expect(r.partition).toBe(partitionForKey(r.key!, 3));
        expect(r.timestamp).toBe(base + i);
        expect(r.headers["x-src"]).toBe("tést");
        expect(typeof r.offset).toBe("number");
        const want = [`text`, "hi", JSON.stringify({ n: 1, s: "ü" }), null][i % 4];
        expect(text(r.value)).toBe(want);
      }
      // Per partition, offsets increase and the order of production is kept.
      for (const p of [0, 1, 2]) {
        const idx = got
          .filter((r) => r.partition === p && r.key !== null)
          .map((r) => Number(r.headers["x-i"]));
        expect(idx).toEqual([...idx].sort((a, b) => a - b));
      }
    });

    it("commits offsets with metadata, atomically with records; committed() returns only committed partitions", async () => {
      const t = uniq("offsets");
      const out = uniq("offsets-out");
      const group = uniq("group");
      await broker.createTopic(t, { partitions: 3 });
      await broker.createTopic(out, { partitions: 1 });
      expect(await broker.committed(group, t)).toEqual([]);
      const positions: CommittedOffset[] = [
        { topic: t, partition: 0, offset: 5, metadata: "ckpt-7" },
        { topic: t, partition: 2, offset: 9, metadata: "ckpt-7" },
      ];
      await broker.commit({ records: [{ topic: out, key: "k", value: "v" }], offsets: { group, positions } });
      expect(await broker.committed(group, t)).toEqual(positions);
      await broker.commit({
        records: [],
        offsets: { group, positions: [{ topic: t, partition: 0, offset: 6 }] },
      });
      expect(await broker.committed(group, t)).toEqual([
        { topic: t, partition: 0, offset: 6 },
        { topic: t, partition: 2, offset: 9, metadata: "ckpt-7" },
      ]);
      expect(await broker.committed(group, uniq("no-such-topic"))).toEqual([]);
    });

    it("exactly-once: records of a failed commit are aborted, never visible to read_committed", async () => {
      const t = uniq("eos");
      const group = uniq("eos-group");
      await broker.createTopic(t, { partitions: 1 });
      await broker.commit({ records: [{ topic: t, key: "a", value: "before" }] });
      const failed = broker.commit({
        records: [
          { topic: t, key: "a", value: "aborted-1" },
          { topic: t, key: "a", value: Buffer.alloc(2 * 1024 * 1024, 120) }, // over message.max.bytes
        ],
        offsets: { group, positions: [{ topic: t, partition: 0, offset: 1, metadata: "never" }] },
      });
      const err = await failed.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRivuletError(err)).toBe(true);
      expect(err).toMatchObject({ code: "BROKER", retriable: false });
      expect((err as Error).message).toMatch(/aborted/);
      // The producer recovers: the next transaction commits.
      await broker.commit({ records: [{ topic: t, key: "a", value: "after" }] });

      const committed = await readTopic(bootstrap, t, { min: 2 });
      expect(committed.map((r) => r.value)).toEqual(["before", "after"]);
      const raw = await readTopic(bootstrap, t, { readUncommitted: true, min: 3 });
      expect(raw.map((r) => r.value)).toContain("aborted-1"); // written, then aborted
      expect(await broker.committed(group, t)).toEqual([]);
    });

    it("rejects records for missing topics or partitions before sending anything", async () => {
      const t = uniq("validate");
      await broker.createTopic(t, { partitions: 2 });
      await expect(
        broker.commit({
          records: [
            { topic: t, value: "x" },
            { topic: uniq("nope"), value: "y" },
          ],
        }),
      ).rejects.toMatchObject({ code: "UNKNOWN_TOPIC" });
      await expect(
        broker.commit({ records: [{ topic: t, value: "x", partition: 2 }] }),
      ).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
      expect(await readTopic(bootstrap, t)).toEqual([]);
    });

    it("at-least-once: idempotent writes, then offsets (with metadata) committed by the group's member", async () => {
      const alo = new KafkaBroker({ brokers: [bootstrap], guarantee: "at-least-once", producer });
      try {
        const t = uniq("alo");
        const group = uniq("alo-group");
        await alo.createTopic(t, { partitions: 2 });
        await alo.commit({ records: [0, 1, 2, 3].map((i) => ({ topic: t, key: `k${i}`, value: `v${i}` })) });
        const c = await alo.consumer({ group, topics: [t] });
        const got = await pollUntil(c, (rs) => rs.length >= 4);
        const positions = [0, 1].map((partition) => ({
          topic: t,
          partition,
          offset: got.filter((r) => r.partition === partition).length,
          metadata: "alo-1",
        }));
        await alo.commit({ records: [], offsets: { group, positions } });
        expect(await alo.committed(group, t)).toEqual(positions);
        await c.close();
        await expect(
          alo.commit({ records: [], offsets: { group, positions: [{ topic: t, partition: 0, offset: 1 }] } }),
        ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      } finally {
        await alo.close();
      }
    });

    it.each(["at-least-once", "exactly-once"] as const)(
      "%s: commits larger than a record batch go out in several requests, each record once, in order",
      async (guarantee) => {
        const b = new KafkaBroker({ brokers: [bootstrap], guarantee, producer });
        try {
          const t = uniq(`big-${guarantee}`);
          await b.createTopic(t, { partitions: 2 });
          const pad = "x".repeat(400);
          // ~1.3 MB a commit into partition 0 (more than one 512 KiB batch), a little into 1;
          // the producer's sequences must carry on from request to request and commit to commit.
          for (let c = 0; c < 2; c++)
            await b.commit({
              records: Array.from({ length: 3_001 }, (_, i) => ({
                topic: t,
                value: { c, i, pad },
                partition: i === 3_000 ? 1 : 0,
              })),
            });
          const got = await readTopic(bootstrap, t, { min: 6_002 });
          const p0 = got
            .filter((r) => r.partition === 0)
            .map((r) => JSON.parse(r.value!) as { c: number; i: number });
          expect(p0).toHaveLength(6_000);
          expect(p0.map((v) => v.c * 3_000 + v.i)).toEqual(Array.from({ length: 6_000 }, (_, k) => k));
          expect(got.filter((r) => r.partition === 1)).toHaveLength(2);
        } finally {
          await b.close();
        }
      },
    );
  },
);

describe("KafkaBroker consumer groups", () => {
  it("splits co-partitioned partitions between two members and reports the rebalance when one leaves", async () => {
    const fast = new KafkaBroker({
      brokers: [bootstrap],
      heartbeatInterval: 300,
      sessionTimeout: 6_000,
      logLevel: "nothing",
    });
    try {
      const left = uniq("left");
      const right = uniq("right");
      const group = uniq("copart");
      for (const t of [left, right]) await fast.createTopic(t, { partitions: 3 });
      const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
      await fast.commit({
        records: keys.flatMap((key) => [
          { topic: left, key, value: "l" },
          { topic: right, key, value: "r" },
        ]),
      });

      const a = await fast.consumer({ group, topics: [left, right] });
      const aEvents: RebalanceEvent[] = [];
      a.onRebalance((e) => {
        aEvents.push(e);
      });
      const aRecords = await pollUntil(a, (rs) => rs.length >= 60);
      expect(aEvents).toHaveLength(1);
      expect(a.assignment()).toHaveLength(6);

      // The second member joins while the first keeps polling (it rejoins from inside poll).
      const joining = fast.consumer({ group, topics: [left, right] });
      let b: Consumer | undefined;
      void joining.then((c) => (b = c));
      const deadline = Date.now() + 20_000;
      while (!b || aEvents.length < 2) {
        if (Date.now() > deadline) throw new Error("second member never joined");
        await a.poll({ maxRecords: 100 });
      }
      const bEvents: RebalanceEvent[] = [];
      b.onRebalance((e) => {
        bEvents.push(e);
      });
      await b.poll({ maxRecords: 100 });

      const numbers = (c: Consumer, topic: string) =>
        c
          .assignment()
          .filter((tp) => tp.topic === topic)
          .map((tp) => tp.partition);
      // Partition N of both topics belongs to one member; together they own everything once.
      expect(numbers(a, left)).toEqual(numbers(a, right));
      expect(numbers(b, left)).toEqual(numbers(b, right));
      expect([...numbers(a, left), ...numbers(b, left)].sort()).toEqual([0, 1, 2]);
      expect(numbers(a, left).length).toBeGreaterThan(0);
      expect(numbers(b, left).length).toBeGreaterThan(0);
      expect(aEvents[1]!.revoked).toHaveLength(numbers(b, left).length * 2);
      expect(bEvents[0]!.assigned).toHaveLength(numbers(b, left).length * 2);
      // Co-partitioned: a key's records of both topics are in the same partition number.
      for (const key of keys) {
        const ps = aRecords.filter((r) => r.key === key).map((r) => r.partition);
        expect(ps).toEqual([partitionForKey(key, 3), partitionForKey(key, 3)]);
      }

      // b leaves: a is told it got b's partitions back.
      await b.close();
      const until = Date.now() + 20_000;
      while (aEvents.length < 3) {
        if (Date.now() > until) throw new Error("no rebalance after the second member left");
        await a.poll({ maxRecords: 100 });
      }
      expect(aEvents[2]!.revoked).toEqual([]);
      expect(aEvents[2]!.assigned).toHaveLength(numbers(b, left).length * 2);
      expect(a.assignment()).toHaveLength(6);
      await a.close();
    } finally {
      await fast.close();
    }
  });
});

describe("KafkaBroker errors", () => {
  it("an unreachable broker fails quickly with a clear, retriable BROKER error", async () => {
    const nowhere = new KafkaBroker({
      brokers: ["127.0.0.1:1"],
      connectionTimeout: 1_500,
      logLevel: "nothing",
    });
    const started = Date.now();
    const err = await nowhere.partitions("x").catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err).toMatchObject({ _tag: "RivuletError", code: "BROKER", retriable: true });
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1/);
    const p = Pipeline.source("in").to("out");
    await expect(run(p, { broker: nowhere })).rejects.toMatchObject({ code: "BROKER" });
    await nowhere.close();
  });

  it("a missing source topic: partitions() is undefined and run() says which topic", async () => {
    const missing = uniq("absent");
    expect(await broker.partitions(missing)).toBeUndefined();
    const p = Pipeline.source(missing).to(uniq("out"));
    await expect(run(p, { broker })).rejects.toThrow(`source topic "${missing}" does not exist`);
    expect(await broker.partitions(missing)).toBeUndefined();
  });
});

describe("KafkaBroker fencing of a member's offsets (KIP-447, platformatic writer)", () => {
  it("sends the member's generation with its offsets: accepted in it, refused once the group is past it (nothing lands, the partitions are reported lost)", async () => {
    const b = new KafkaBroker({
      brokers: [bootstrap],
      producer: "platformatic",
      heartbeatInterval: 100,
      sessionTimeout: 6_000,
      logLevel: "nothing",
    });
    try {
      const t = uniq("fence-in");
      const out = uniq("fence-out");
      const group = uniq("fence");
      for (const topic of [t, out]) await b.createTopic(topic, { partitions: 1 });
      await b.commit({ records: [{ topic: t, key: "k", value: "v" }] });
      const c = (await b.consumer({ group, topics: [t] })) as KafkaConsumer;
      const events: RebalanceEvent[] = [];
      c.onRebalance((e) => {
        events.push(e);
      });
      await pollUntil(c, (rs) => rs.length >= 1);
      // A heartbeat confirms the generation the join gave it.
      await until(async () => {
        await c.poll({ maxRecords: 100 });
        return c.generationId !== undefined;
      }, "a heartbeat confirms the member's generation");
      const position = (offset: number) => [{ topic: t, partition: 0, offset, metadata: `cp-${offset}` }];
      // Its own generation: the coordinator takes the offsets (a wrong one would be refused).
      await b.commit({
        records: [{ topic: out, value: "in its generation" }],
        offsets: { group, positions: position(1) },
      });
      expect(await b.committed(group, t)).toEqual([{ topic: t, partition: 0, offset: 1, metadata: "cp-1" }]);

      // As if the group had moved on without it (a stall past its session, a rejoin elsewhere).
      c.generationId = (c.generationId ?? 0) + 1;
      const stale = await b
        .commit({ records: [{ topic: out, value: "stale" }], offsets: { group, positions: position(2) } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isRivuletError(stale) && stale.code, String(stale)).toBe("PARTITIONS_LOST");
      expect(await b.committed(group, t)).toEqual([{ topic: t, partition: 0, offset: 1, metadata: "cp-1" }]);
      expect((await readTopic(bootstrap, out, { min: 1 })).map((r) => r.value)).toEqual([
        "in its generation",
      ]);
      // The next poll reports its partitions lost; it rejoins as a new member.
      await until(async () => {
        await c.poll({ maxRecords: 100 });
        return events.some((e) => e.lost === true);
      }, "the member reports its partitions lost");
      await c.close();
    } finally {
      await b.close();
    }
  });
});
