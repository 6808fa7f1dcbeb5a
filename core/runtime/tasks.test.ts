import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Ev, everyState, OUTPUTS } from "../../test/fixtures/every-state.js";
import { MemoryBroker } from "../broker/memory-broker.js";
import { partitionForKey } from "../broker/partitioner.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { MemoryStateStore } from "../state/store.js";
import { FakeClock } from "../testing/fake-clock.js";
import { tumbling } from "../time/windows.js";
import { type Job, type RunOptions, run } from "./job.js";

const PARTITIONS = 4;

async function load(main: { k: string; ts: number }[], other: { k: string; ts: number }[]) {
  const broker = new MemoryBroker();
  await broker.createTopic("in", { partitions: PARTITIONS });
  await broker.createTopic("other", { partitions: PARTITIONS });
  // Keyed by the keyBy key: co-partitioned, as per-partition tasks need.
  await broker.produce(
    "in",
    main.map((e, id) => ({ key: e.k, value: { id, k: e.k, ts: e.ts } })),
  );
  await broker.produce(
    "other",
    other.map((e, id) => ({ key: e.k, value: { id: 1000 + id, k: e.k, ts: e.ts } })),
  );
  return broker;
}

function outputs(broker: MemoryBroker) {
  const out: Record<string, unknown[]> = {};
  for (const t of OUTPUTS)
    out[t] = broker.listTopics().includes(t)
      ? broker.recordsSync(t).map((r) => [r.partition, r.key, r.value, r.timestamp])
      : [];
  return out;
}

/** Keyed by k: a at 1, b at 3, a at 5 (windows [0, 10)), a at 12 ([10, 20)). */
async function produceWindows(broker: MemoryBroker) {
  await broker.produce(
    "in",
    [1, 3, 5, 12].map((ts, id) => {
      const k = ts === 3 ? "b" : "a";
      return { key: k, value: { id, k, ts } };
    }),
  );
}

const opts = (broker: MemoryBroker, state: MemoryStateStore, maxBatch: number): RunOptions => ({
  broker,
  state,
  manual: true,
  maxBatch,
  group: "g",
  clock: new FakeClock(0),
  tasks: "per-partition",
});

async function steps(jobs: Job[], n: number) {
  for (let i = 0; i < n; i++) for (const j of jobs) await j.step();
}

const events = fc.array(
  fc.record({ k: fc.constantFrom("a", "b", "c", "__proto__", ""), ts: fc.integer({ min: 0, max: 150 }) }),
  { maxLength: 50 },
);

describe("per-partition tasks", () => {
  it("members that join and leave mid-run write exactly what one job writes, late records included", async () => {
    await fc.assert(
      fc.asyncProperty(
        events,
        events,
        fc.integer({ min: 1, max: 4 }),
        fc.nat({ max: 6 }),
        fc.nat({ max: 6 }),
        async (main, other, maxBatch, before, during) => {
          const alone = await load(main, other);
          const ref = await run(everyState(), opts(alone, new MemoryStateStore(), maxBatch));
          await ref.drain();

          const broker = await load(main, other);
          const state = new MemoryStateStore();
          const a = await run(everyState(), opts(broker, state, maxBatch));
          await steps([a], before);
          const b = await run(everyState(), opts(broker, state, maxBatch)); // A gives half the partitions to B
          await steps([a, b], during);
          await a.stop(); // B takes A's partitions over from their checkpoints
          await b.drain();

          expect(outputs(broker)).toEqual(outputs(alone));
          const r = ref.metrics().records;
          const x = a.metrics().records;
          const y = b.metrics().records;
          expect(x.late + y.late).toBe(r.late);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("with one source topic, the output (late records included) depends only on each partition's order", async () => {
    // Only "in" carries records: "other" stays empty, so no task sees two inputs interleave.
    await fc.assert(
      fc.asyncProperty(
        events,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        async (evs, x, y) => {
          const [a, b] = [await load(evs, []), await load(evs, [])];
          await (await run(everyState(), opts(a, new MemoryStateStore(), x))).drain();
          await (await run(everyState(), opts(b, new MemoryStateStore(), y))).drain();
          expect(outputs(b)).toEqual(outputs(a));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a partition taken over by a member further ahead in event time keeps its own watermark", async () => {
    // The partition of "fast" runs far ahead; the one of "slow" lags. When the member holding
    // "slow" leaves, the other takes it over: its records are on time, as in one job.
    expect(partitionForKey("fast", 2)).not.toBe(partitionForKey("slow", 2));
    const p = () =>
      Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { maxOutOfOrderness: 0 } })
        .keyBy((e) => e.k)
        .window(tumbling(10))
        .aggregate(count())
        .to("out");
    const go = async (tasks: "shared" | "per-partition") => {
      const broker = new MemoryBroker();
      await broker.createTopic("in", { partitions: 2 });
      const evs = [
        ...Array.from({ length: 10 }, (_, i) => ({ k: "fast", ts: 1000 + i * 100 })),
        ...Array.from({ length: 10 }, (_, i) => ({ k: "slow", ts: i * 10 })),
      ];
      await broker.produce(
        "in",
        evs.map((e, id) => ({ key: e.k, value: { id, ...e } })),
      );
      const state = new MemoryStateStore();
      const o = { ...opts(broker, state, 2), tasks };
      const a = await run(p(), o);
      const b = await run(p(), o);
      await steps([a, b], 3); // "fast" is read to 1500, "slow" to 50
      const slow = partitionForKey("slow", 2);
      const holder = a.metrics().partitions.some((x) => x.partition === slow) ? a : b;
      const other = holder === a ? b : a;
      await holder.stop();
      await other.drain();
      return { late: other.metrics().records.late, windows: broker.recordsSync("out").length };
    };
    expect(await go("per-partition")).toEqual({ late: 0, windows: 20 });
    // The shared operators of the member that took it over are at "a"'s time: "b" comes late.
    expect((await go("shared")).late).toBeGreaterThan(0);
  });

  it("a record whose key belongs to another partition goes to the dead-letter topic with the reason", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    const home = partitionForKey("a", 2);
    await broker.produce("in", [
      { key: "x", value: { id: 0, k: "a", ts: 1 }, partition: 1 - home },
      { key: "a", value: { id: 1, k: "a", ts: 2 } },
    ]);
    const p = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .aggregate(count())
      .to("out");
    const job = await run(p, opts(broker, new MemoryStateStore(), 10));
    await job.drain();
    const [dead, ...more] = broker.recordsSync("rivulet-dlq");
    expect(more).toEqual([]);
    expect(dead!.headers).toMatchObject({
      "rivulet.error.stage": "keyBy",
      "rivulet.error.step": "step 2 (keyBy)",
      "rivulet.error.reason": `key "a" belongs to partition ${home}, not ${1 - home}: per-partition tasks need input keyed by the keyBy key (or .repartition() after keyBy)`,
      "rivulet.source.offset": "0",
    });
    expect(broker.recordsSync("out").map((r) => r.value)).toEqual([{ key: "a", value: 1 }]);
    expect(job.metrics().records).toMatchObject({ in: 2, deadLettered: 1, emitted: 1 });
  });

  it("a keyBy of records made by a keyed step needs a repartition topic", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    const windows = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .window(tumbling(10))
      .aggregate(count());
    const rekeyed = windows.keyBy((w) => w.end);
    await expect(
      run(rekeyed.aggregate(count()).to("out"), { broker, tasks: "per-partition" }),
    ).rejects.toThrow(
      "Invalid pipeline at step 4 (keyBy): with per-partition tasks, records made by step 3 (window tumbling(10) aggregate) can only change key through a topic: add .repartition() after this keyBy",
    );
    // Windows [0, 10) of a (2 records) and b (1), [10, 20) of a (fired by drain): counted by end.
    await produceWindows(broker);
    const through = rekeyed.repartition().aggregate(count()).to("out");
    const perPartition = await run(through, { broker, tasks: "per-partition", group: "through" });
    expect(perPartition.tasks).toBe("per-partition");
    await perPartition.drain();
    // The same definition runs with shared operators as it is.
    const shared = await run(rekeyed.aggregate(count()).to("out-shared"), { broker, group: "shared" });
    expect(shared.tasks).toBe("shared");
    await shared.drain();
    const counts = [
      { key: 10, value: 1 },
      { key: 10, value: 2 },
      { key: 20, value: 1 },
    ];
    expect(broker.recordsSync("out-shared").map((r) => r.value)).toEqual(counts);
    // Through the repartition topic: the same, [10, 20) (fired by the drain) included.
    expect(broker.recordsSync("out").map((r) => r.value)).toEqual(counts);
  });

  // drain fires the open window [10, 20) at the end of input into the repartition topic: it must
  // read that topic again before the repartition source ends too (it once stopped without).
  it("drain carries windows fired at the end of input through a repartition topic", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    await produceWindows(broker);
    const through = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .window(tumbling(10))
      .aggregate(count())
      .keyBy((w) => w.end)
      .repartition()
      .aggregate(count())
      .to("out");
    const job = await run(through, { broker, tasks: "per-partition" });
    await job.drain();
    expect(broker.recordsSync("out").map((r) => r.value)).toEqual([
      { key: 10, value: 1 },
      { key: 10, value: 2 },
      { key: 20, value: 1 },
    ]);
  });

  it("source topics with different partition counts are refused at start", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    await broker.createTopic("other", { partitions: 3 });
    await expect(run(everyState(), { broker, tasks: "per-partition" })).rejects.toThrow(
      'per-partition tasks need co-partitioned source topics, with equal partition counts: "in" has 2, "other" has 3',
    );
  });
});
