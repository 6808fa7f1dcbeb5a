import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Ev, everyState, OUTPUTS } from "../../test/fixtures/every-state.js";
import { MemoryBroker } from "../broker/memory-broker.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { MemoryStateStore } from "../state/store.js";
import { FakeClock } from "../testing/fake-clock.js";
import { tumbling } from "../time/windows.js";
import { run } from "./job.js";

const events = fc.array(
  fc.record({
    k: fc.constantFrom("a", "b", "__proto__", ""),
    ts: fc.integer({ min: 0, max: 150 }),
    p: fc.integer({ min: 0, max: 2 }),
  }),
  { maxLength: 60 },
);

async function load(
  broker: MemoryBroker,
  main: { k: string; ts: number; p: number }[],
  other: { k: string; ts: number; p: number }[],
) {
  await broker.createTopic("in", { partitions: 3 });
  await broker.createTopic("other", { partitions: 2 });
  await broker.produce(
    "in",
    main.map((e, id) => ({ key: e.k, value: { id, k: e.k, ts: e.ts }, partition: e.p })),
  );
  await broker.produce(
    "other",
    other.map((e, id) => ({ key: e.k, value: { id: 1000 + id, k: e.k, ts: e.ts }, partition: e.p % 2 })),
  );
}

async function outputs(broker: MemoryBroker) {
  const out: Record<string, unknown[]> = {};
  for (const t of OUTPUTS)
    out[t] = (await broker.records(t)).map((r) => [r.partition, r.key, r.value, r.timestamp]);
  return out;
}

describe("checkpoints", () => {
  it("restoring at any batch boundary into a fresh job gives exactly the uninterrupted output", async () => {
    await fc.assert(
      fc.asyncProperty(
        events,
        events,
        fc.integer({ min: 1, max: 6 }),
        fc.nat({ max: 25 }),
        async (main, other, maxBatch, steps) => {
          const whole = new MemoryBroker();
          await load(whole, main, other);
          const ref = await run(everyState(), {
            broker: whole,
            manual: true,
            maxBatch,
            clock: new FakeClock(0),
          });
          await ref.drain();

          const broker = new MemoryBroker();
          await load(broker, main, other);
          const state = new MemoryStateStore();
          const first = await run(everyState(), {
            broker,
            state,
            manual: true,
            maxBatch,
            clock: new FakeClock(0),
            group: "g",
          });
          for (let i = 0; i < steps; i++) await first.step();
          await first.stop(); // commits outputs so far with a checkpoint of every operator
          const second = await run(everyState(), {
            broker,
            state,
            manual: true,
            maxBatch,
            clock: new FakeClock(0),
            group: "g",
          });
          await second.drain();

          expect(await outputs(broker)).toEqual(await outputs(whole));
          // Metrics count what each job did: together, what the uninterrupted one did.
          const a = first.metrics().records;
          const b = second.metrics().records;
          const sum = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + b[k as keyof typeof b]]));
          expect(sum).toEqual(ref.metrics().records);
          expect(b.in).toBe(b.emitted + b.filtered + b.aggregated + b.late + b.deadLettered);
          // One checkpoint per section is kept: older ones go once a newer one is committed.
          for (const ids of Object.values(state.ids())) expect(ids).toHaveLength(1);
        },
      ),
      {
        numRuns: 150,
        examples: [
          // Found by CI: restoring partitions one at a time let the watermark run ahead unseen.
          [
            [
              { k: "a", ts: 0, p: 1 },
              { k: "a", ts: 12, p: 1 },
              { k: "a", ts: 12, p: 2 },
              { k: "a", ts: 0, p: 1 },
              { k: "a", ts: 12, p: 0 },
            ],
            [],
            1,
            1,
          ],
        ],
      },
    );
  });

  it("a checkpoint is named by the committed offsets; a missing one is a clear error", async () => {
    const broker = new MemoryBroker();
    await load(broker, [{ k: "a", ts: 1, p: 0 }], []);
    const state = new MemoryStateStore();
    const job = await run(everyState(), { broker, state, manual: true, group: "g" });
    await job.flush();
    await job.stop();
    const committed = await broker.committed("g", "in");
    const id = state.ids()["g/0"]![0]!;
    expect(committed.map((c) => [c.partition, c.metadata])).toEqual([
      [0, id],
      [1, id],
      [2, id],
    ]);
    expect(Object.keys(state.ids())).toEqual(["g/0", "g/1", "g/2"]); // one section per partition number
    state.clear();
    const again = await run(everyState(), { broker, state, manual: true, group: "g" });
    await expect(again.flush()).rejects.toThrow(
      new RegExp(`checkpoint "${id}" of section 0, named by the committed offsets of group "g", is missing`),
    );
  });

  it("without a state store a restarted job resumes from the committed offsets", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce("in", [{ value: 1 }, { value: 2 }]);
    const p = () =>
      Pipeline.source<number>("in")
        .map((n) => n * 2)
        .to("out");
    const a = await run(p(), { broker, group: "g" });
    await a.flush();
    await a.stop();
    await broker.produce("in", [{ value: 3 }]);
    const b = await run(p(), { broker, group: "g" });
    await b.drain();
    expect((await broker.records("out")).map((r) => r.value)).toEqual([2, 4, 6]);
  });
});

describe("a running job (not manual)", () => {
  it("takes checkpoints on request and keeps open windows across stop and restart", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const state = new MemoryStateStore();
    const p = () =>
      Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
        .keyBy((e) => e.k)
        .window(tumbling(100))
        .aggregate(count())
        .to("out");
    await broker.produce("in", [{ value: { id: 0, k: "a", ts: 10 } }]);
    const a = await run(p(), { broker, state, group: "g", checkpointInterval: 60_000 });
    await a.flush();
    const before = a.metrics().checkpoints.count;
    await a.checkpoint();
    expect(a.metrics().checkpoints.count).toBe(before + 1);
    await a.stop();
    expect(a.status).toBe("stopped");
    await broker.produce("in", [{ value: { id: 1, k: "a", ts: 20 } }]);
    const b = await run(p(), { broker, state, group: "g" });
    await b.drain();
    expect((await broker.records("out")).map((r) => (r.value as { value: number }).value)).toEqual([2]);
    await expect(b.flush()).rejects.toThrow(/stopped/);
  });
});

describe("a changed pipeline finds its state by operator id", () => {
  type Click = { k: string; ts: number };
  const input = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({ key: "u", value: { k: "u", ts: from + i } }));
  const counts = (p: (s: ReturnType<typeof Pipeline.source<Click>>) => Pipeline) =>
    p(Pipeline.source<Click>("in", { timestamp: (c) => c.ts }));

  async function restartWith(second: Pipeline, options: { allowNonRestoredState?: boolean } = {}) {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce("in", input(0, 5));
    const state = new MemoryStateStore();
    const first = counts((s) =>
      s
        .keyBy((c) => c.k)
        .window(tumbling(100))
        .aggregate(count())
        .to("out"),
    );
    const a = await run(first, { broker, state, group: "g", manual: true });
    await a.flush();
    await a.stop(); // the window [0, 100) is open, with 5 records, in the checkpoint
    await broker.produce("in", input(5, 8));
    const b = await run(second, { broker, state, group: "g", manual: true, ...options });
    await b.drain();
    return broker;
  }

  it("inserting stateless steps keeps the window's state", async () => {
    const broker = await restartWith(
      counts((s) =>
        s
          .map((c) => ({ ...c, seen: true }))
          .filter((c) => c.seen)
          .keyBy((c) => c.k)
          .window(tumbling(100))
          .aggregate(count())
          .map((r) => r)
          .to("out"),
      ),
    );
    expect((await broker.records("out")).map((r) => (r.value as { value: number }).value)).toEqual([8]);
  });

  it("removing a stateful step fails the restore, naming it; allowNonRestoredState drops its state", async () => {
    const stateless = () => counts((s) => s.map((c) => c.ts).to("out"));
    await expect(restartWith(stateless())).rejects.toThrow(
      /the checkpoint holds window state of operator "window tumbling\(100\)@in", which this pipeline does not have.*\.uid\("window tumbling\(100\)@in"\)/,
    );
    const broker = await restartWith(stateless(), { allowNonRestoredState: true });
    expect((await broker.records("out")).map((r) => r.value)).toEqual([5, 6, 7]);
  });

  it("a uid finds the state again after the step changed; a uid on another kind of state is refused", async () => {
    const renamed = (uid: string) =>
      counts((s) =>
        s
          .keyBy((c) => c.k)
          .window(tumbling(100))
          .aggregate(count())
          .uid(uid)
          .to("out"),
      );
    // The first job's window had no uid: its id was derived. Naming the new one so finds it.
    const broker = await restartWith(renamed("window tumbling(100)@in"));
    expect((await broker.records("out")).map((r) => (r.value as { value: number }).value)).toEqual([8]);
    await expect(
      restartWith(
        counts((s) =>
          s
            .keyBy((c) => c.k)
            .process({ onRecord() {} })
            .uid("window tumbling(100)@in")
            .to("out"),
        ),
      ),
    ).rejects.toThrow(
      /holds window state of operator "window tumbling\(100\)@in", but in this pipeline .* is step 3 \(process\), which keeps process state/,
    );
  });
});
