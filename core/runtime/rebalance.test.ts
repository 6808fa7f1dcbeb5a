import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { partitionForKey } from "../broker/partitioner.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { valueState } from "../state/descriptors.js";
import { MemoryStateStore } from "../state/store.js";
import { FakeClock } from "../testing/fake-clock.js";
import { tumbling } from "../time/windows.js";
import { type Job, run } from "./job.js";

type Ev = { k: string; ts: number };

// Co-partitioned input (records keyed by their key), so a key's state lives with its partition.
function build() {
  const keyed = Pipeline.source<Ev>("in", {
    timestamp: (e) => e.ts,
    watermark: { maxOutOfOrderness: 1e9 },
  }).keyBy((e) => e.k);
  const seen = valueState<number>("seen", 0);
  return Pipeline.all(
    keyed.window(tumbling(50)).aggregate(count()).to("win"),
    keyed
      .process<string>({
        onRecord(e, ctx) {
          const s = ctx.state(seen);
          s.set((s.get() ?? 0) + 1);
          ctx.emit(`${e.k}#${s.get()}`);
        },
      })
      .to("seq"),
  );
}

async function setup(events: Ev[]) {
  const broker = new MemoryBroker();
  await broker.createTopic("in", { partitions: 4 });
  await broker.produce(
    "in",
    events.map((e) => ({ key: e.k, value: e })),
  );
  return broker;
}

async function results(broker: MemoryBroker) {
  const win = (await broker.records("win")).map((r) => JSON.stringify(r.value)).sort();
  const seq = (await broker.records("seq")).map((r) => String(r.value)).sort();
  return { win, seq };
}

const opts = (broker: MemoryBroker, state: MemoryStateStore) =>
  ({ broker, state, manual: true, maxBatch: 2, group: "g", clock: new FakeClock(0) }) as const;

async function steps(jobs: Job[], n: number) {
  for (let i = 0; i < n; i++) for (const j of jobs) await j.step();
}

describe("state moves with its partition between members of a group", () => {
  const events = fc.array(
    fc.record({
      k: fc.constantFrom("a", "b", "c", "d", "e", "__proto__", ""),
      ts: fc.integer({ min: 0, max: 300 }),
    }),
    { maxLength: 80 },
  );

  it("a member joins mid-run, then the first one leaves: the output is the single job's", async () => {
    await fc.assert(
      fc.asyncProperty(events, fc.nat({ max: 6 }), fc.nat({ max: 6 }), async (evs, before, during) => {
        const alone = await setup(evs);
        const ref = await run(build(), opts(alone, new MemoryStateStore()));
        await ref.drain();

        const broker = await setup(evs);
        const state = new MemoryStateStore();
        const a = await run(build(), opts(broker, state));
        await steps([a], before);
        const b = await run(build(), opts(broker, state)); // joins: A gives up half the partitions
        await steps([a, b], during);
        await a.stop(); // leaves: B takes the rest, restoring A's last checkpoint of them
        await b.drain();

        expect(await results(broker)).toEqual(await results(alone));
      }),
      { numRuns: 40 },
    );
  });

  it("a member joins and leaves again: the first one takes its partitions back, not its stale copy", async () => {
    // Every third record of a key is reported and its state cleared: state that B cleared must
    // not come back from what A held before it gave the partition away.
    const counted = valueState<number>("n", 0);
    const triples = () =>
      Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
        .keyBy((e) => e.k)
        .process<string>({
          onRecord(e, ctx) {
            const n = ctx.state(counted);
            const next = (n.get() ?? 0) + 1;
            if (next < 3) n.set(next);
            else {
              n.clear();
              ctx.emit(`${e.k}@${e.ts}`);
            }
          },
        })
        .to("triples");
    await fc.assert(
      fc.asyncProperty(events, fc.nat({ max: 4 }), fc.nat({ max: 8 }), async (evs, before, during) => {
        const all = evs.map((e, i) => ({ k: e.k, ts: i }));
        const alone = await setup(all);
        const ref = await run(triples(), opts(alone, new MemoryStateStore()));
        await ref.drain();

        const broker = await setup(all);
        const state = new MemoryStateStore();
        const a = await run(triples(), opts(broker, state));
        await steps([a], before);
        const b = await run(triples(), opts(broker, state));
        await steps([a, b], during);
        await b.stop(); // A takes B's partitions back: B's checkpoint, not A's stale copy
        await a.drain();

        const out = (x: MemoryBroker) =>
          x
            .recordsSync("triples")
            .map((r) => String(r.value))
            .sort();
        expect(out(broker)).toEqual(out(alone));
      }),
      {
        numRuns: 60,
        // "c" lives in partition 2, which moves to B; B clears its count at offset 6 and stops.
        examples: [[Array.from({ length: 20 }, (_, ts) => ({ k: "c", ts })), 1, 2]],
      },
    );
  });
});

describe("repartition", () => {
  type Click = { user: string; page: string; ts: number };
  const clicks = fc.array(
    fc.record({
      user: fc.constantFrom("u1", "u2", "u3", "u4", "u5"),
      page: fc.constantFrom("home", "cart", "pay", "__proto__"),
      ts: fc.integer({ min: 0, max: 500 }),
    }),
    { maxLength: 60 },
  );
  // Records are keyed by user; the pipeline counts by page.
  const build = (repartition: boolean) => {
    const byPage = Pipeline.source<Click>("in", {
      timestamp: (c) => c.ts,
      watermark: { maxOutOfOrderness: 1e9 },
    }).keyBy((c) => c.page);
    const keyed = repartition ? byPage.repartition({ watermark: { maxOutOfOrderness: 1e9 } }) : byPage;
    return Pipeline.all(
      keyed.window(tumbling(100)).aggregate(count()).to("win"),
      keyed.aggregate(count()).to("roll"),
    );
  };
  const load = async (evs: Click[]) => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 3 });
    await broker.produce(
      "in",
      evs.map((c) => ({ key: c.user, value: c })),
    );
    return broker;
  };
  const outputs = (b: MemoryBroker) => ({
    win: b
      .recordsSync("win")
      .map((r) => JSON.stringify(r.value))
      .sort(),
    roll: b
      .recordsSync("roll")
      .map((r) => JSON.stringify(r.value))
      .sort(),
  });

  it.each(["shared", "per-partition"] as const)(
    "two members (%s tasks) counting by a key that is not the record key see what one job sees",
    async (tasks) => {
      await fc.assert(
        fc.asyncProperty(clicks, fc.nat({ max: 5 }), async (evs, during) => {
          const alone = await load(evs);
          await (await run(build(false), opts(alone, new MemoryStateStore()))).drain();

          const broker = await load(evs);
          const state = new MemoryStateStore();
          const a = await run(build(true), { ...opts(broker, state), tasks });
          const b = await run(build(true), { ...opts(broker, state), tasks });
          await steps([a, b], during);
          await a.stop();
          await b.drain();
          expect(outputs(broker)).toEqual(outputs(alone));
          expect(a.metrics().records.deadLettered + b.metrics().records.deadLettered).toBe(0);
          // Through the topic and back: every page key lives in the partition its hash names.
          for (const r of broker.recordsSync<Click>("g-repartition-0"))
            expect(r.partition).toBe(partitionForKey(r.value.page, 3));
        }),
        { numRuns: 40 },
      );
    },
  );

  it("repartition() goes right after keyBy", () => {
    const s = Pipeline.source<Click>("in").keyBy((c) => c.page);
    expect(() => (s.filter(() => true) as any).repartition()).toThrow(/repartition is not a function|keyBy/);
    expect(() => s.repartition({ topic: "bad topic" })).toThrow(/step 3 \(repartition\): topic name/);
  });
});
