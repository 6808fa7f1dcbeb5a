import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actionsArb, runWithCrashes } from "../../test/fixtures/crashes.js";
import { everyState, OUTPUTS } from "../../test/fixtures/every-state.js";
import type { Broker } from "../broker/broker.js";
import { MemoryBroker, REST_PROXY_CAPABILITIES } from "../broker/memory-broker.js";
import { ID_HEADER } from "../broker/records.js";
import { RivuletError } from "../errors.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { MemoryStateStore, type StateStore } from "../state/store.js";
import { FakeClock } from "../testing/fake-clock.js";
import { dropRepeats } from "../testing/repeats.js";
import { tumbling } from "../time/windows.js";
import { run } from "./job.js";

type Ev = { id: number; k: string; ts: number };

const perKey = () =>
  Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
    .keyBy((e) => e.k)
    .window(tumbling(10))
    .aggregate(count())
    .to("out");

const events = (n: number) =>
  Array.from({ length: n }, (_, id) => ({
    key: `k${id % 3}`,
    value: { id, k: `k${id % 3}`, ts: id },
    partition: id % 2,
  }));

async function loaded(broker: MemoryBroker, n = 40): Promise<MemoryBroker> {
  await broker.createTopic("in", { partitions: 2 });
  await broker.produce("in", events(n));
  return broker;
}

const body = (r: { key: unknown; value: unknown; timestamp: number; headers: unknown }) =>
  JSON.stringify([r.key, r.value, r.timestamp, r.headers]);

describe("the commit protocol follows what the broker and the store can do", () => {
  it("a transactional broker: exactly-once, checkpoints named by the offsets, outputs without ids", async () => {
    const broker = await loaded(new MemoryBroker());
    const job = await run(perKey(), { broker, state: new MemoryStateStore(), manual: true, group: "g" });
    await job.drain();
    expect(job.metrics()).toMatchObject({ guarantee: "exactly-once", protocol: "named" });
    expect((await broker.records("out")).every((r) => r.headers[ID_HEADER] === undefined)).toBe(true);
    expect((await broker.committed("g", "in")).map((c) => c.metadata)).toEqual([
      job.metrics().checkpoints.lastId,
      job.metrics().checkpoints.lastId,
    ]);
  });

  it("a REST-proxy-like broker: outputs at least once with ids, offsets without metadata, the store owns the checkpoint", async () => {
    const broker = await loaded(new MemoryBroker(REST_PROXY_CAPABILITIES));
    const state = new MemoryStateStore();
    const options = {
      broker,
      state,
      manual: true,
      group: "g",
      maxBatch: 5,
      clock: new FakeClock(0),
    } as const;
    const first = await run(perKey(), { ...options, checkpointInterval: 1 });
    expect(first.metrics()).toMatchObject({ guarantee: "at-least-once", protocol: "store-owned" });
    await first.step(); // the first commit checkpoints; then none until asked (the clock stands still)
    for (let i = 0; i < 3; i++) await first.step();
    const written = (await broker.records("out")).length;
    expect(written).toBeGreaterThan(0); // outputs go out as they are made, before any checkpoint
    // The job dies here. Its successor starts from the store's checkpoint and makes them again.
    const second = await run(perKey(), options);
    await second.drain();
    const all = await broker.records("out");
    expect(all.length).toBeGreaterThan(written);
    const ids = all.map((r) => r.headers[ID_HEADER]);
    expect(ids.every((id) => typeof id === "string")).toBe(true);
    expect(new Set(ids).size).toBeLessThan(all.length); // repeats ...
    const firstOf = new Map<string, string>();
    for (const r of all) {
      const id = r.headers[ID_HEADER]!;
      if (!firstOf.has(id)) firstOf.set(id, body(r));
      expect(body(r)).toBe(firstOf.get(id)); // ... identical to the first
    }
    // Without the repeats: what one uninterrupted exactly-once job writes.
    const once = await loaded(new MemoryBroker());
    await (await run(perKey(), { broker: once, manual: true, maxBatch: 5, clock: new FakeClock(0) })).drain();
    const strip = (r: { key: unknown; value: unknown; timestamp: number }) => [r.key, r.value, r.timestamp];
    expect(dropRepeats(all).map(strip)).toEqual((await once.records("out")).map(strip));
    // The group's offsets carry no metadata: the store's latest checkpoint is what a restart loads.
    const committed = await broker.committed("g", "in");
    expect(committed.every((c) => c.metadata === undefined)).toBe(true);
    expect(committed.map((c) => c.offset)).toEqual([20, 20]);
    expect(await state.latest("g/0")).toBe(second.metrics().checkpoints.lastId);
  });

  it("a store that owns the offsets never moves a broker's committed offsets back, even unread ones", async () => {
    const inner = new MemoryBroker(REST_PROXY_CAPABILITIES);
    await inner.createTopic("in", { partitions: 2 });
    await inner.produce("in", [{ value: { id: 0, k: "a", ts: 0 }, partition: 0 }]);
    await inner.produce(
      "in",
      [1, 2, 3].map((id) => ({ value: { id, k: "b", ts: id }, partition: 1 })),
    );
    await inner.commit({
      records: [],
      offsets: { group: "g", positions: [{ topic: "in", partition: 1, offset: 3 }] },
    });
    // A REST proxy cannot tell committed offsets (v2 reads them with a GET that has a body),
    // while its consumers start from them.
    const broker = Object.create(inner) as MemoryBroker;
    broker.committed = async () => [];
    const job = await run(perKey(), { broker, state: new MemoryStateStore(), manual: true, group: "g" });
    await job.flush();
    await job.stop();
    expect(job.metrics().records.in).toBe(1);
    expect((await inner.committed("g", "in")).map((c) => [c.partition, c.offset])).toEqual([
      [1, 3],
      [0, 1],
    ]);
  });

  it("a broker without offset metadata needs a store that can find its latest checkpoint", async () => {
    const broker = await loaded(new MemoryBroker(REST_PROXY_CAPABILITIES));
    const state: StateStore = { put: async () => {}, get: async () => undefined };
    await expect(run(perKey(), { broker, state })).rejects.toThrow(/has no latest\(\)/);
  });

  it("at-least-once, any crash anywhere: without repeats, exactly the uninterrupted output", async () => {
    const load = async (broker: MemoryBroker, input: { k: string; ts: number; p: number }[]) => {
      await broker.createTopic("in", { partitions: 3 });
      await broker.createTopic("other", { partitions: 3 });
      await broker.produce(
        "in",
        input.map((e, id) => ({ key: e.k, value: { id, k: e.k, ts: e.ts }, partition: e.p })),
      );
      await broker.produce(
        "other",
        input.map((e, id) => ({ key: e.k, value: { id: 1000 + id, k: e.k, ts: e.ts + 3 }, partition: e.p })),
      );
    };
    const input = fc.array(
      fc.record({
        k: fc.constantFrom("a", "b", "__proto__", ""),
        ts: fc.integer({ min: 0, max: 150 }),
        p: fc.integer({ min: 0, max: 2 }),
      }),
      { maxLength: 50 },
    );
    await fc.assert(
      fc.asyncProperty(input, fc.integer({ min: 1, max: 6 }), actionsArb, async (evs, maxBatch, actions) => {
        const whole = new MemoryBroker();
        await load(whole, evs);
        const options = { manual: true, maxBatch, clock: new FakeClock(0), group: "g" } as const;
        await (await run(everyState(), { broker: whole, ...options })).drain();
        const broker = new MemoryBroker(REST_PROXY_CAPABILITIES);
        await load(broker, evs);
        const state = new MemoryStateStore();
        await runWithCrashes(everyState, { broker, state, ...options, checkpointInterval: 1 }, actions);
        for (const t of OUTPUTS) {
          const got = dropRepeats(await broker.records(t)).map((r) => [
            r.partition,
            r.key,
            r.value,
            r.timestamp,
          ]);
          const want = (await whole.records(t)).map((r) => [r.partition, r.key, r.value, r.timestamp]);
          expect([t, sorted(got)]).toEqual([t, sorted(want)]);
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});

/** Multiset order: partitions of a replayed run may interleave otherwise in a topic. */
function sorted(rows: unknown[][]): unknown[][] {
  return rows
    .map((r) => [JSON.stringify(r), r] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, r]) => r);
}

describe("transient failures are retried; lasting ones fail the job with the cause", () => {
  /** Fails the first `n` commits with a retriable error, as a broker restarting would. */
  function flaky(inner: MemoryBroker, n: number): Broker & { failures: number } {
    const b = Object.create(inner) as MemoryBroker & { failures: number };
    b.failures = 0;
    b.commit = async (tx) => {
      if (b.failures < n) {
        b.failures++;
        throw new RivuletError("BROKER", "broker not available", { retriable: true });
      }
      return inner.commit(tx);
    };
    return b;
  }

  it("a commit that fails transiently is tried again: the output is whole", async () => {
    const inner = await loaded(new MemoryBroker(), 20);
    const broker = flaky(inner, 3);
    const job = await run(perKey(), { broker, manual: true, retry: { initialMs: 1 } });
    await job.drain();
    expect(broker.failures).toBe(3);
    expect((await inner.records("out")).reduce((n, r) => n + (r.value as { value: number }).value, 0)).toBe(
      20,
    );
  });

  it("past the retry limit the job fails with the broker's error as the cause", async () => {
    const broker = flaky(await loaded(new MemoryBroker(), 20), 100);
    const job = await run(perKey(), { broker, manual: true, retry: { retries: 2, initialMs: 1 } });
    const e = await job.drain().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toMatchObject({
      code: "BROKER",
      retriable: true,
      message: expect.stringMatching(/^committing failed 3 times, the last with: broker not available$/),
    });
    expect((e as Error).cause).toMatchObject({ message: "broker not available" });
    expect(job.status).toBe("failed");
  });

  it("a non-retriable error is not retried", async () => {
    const inner = await loaded(new MemoryBroker(), 5);
    const broker = Object.create(inner) as MemoryBroker;
    let calls = 0;
    broker.commit = async () => {
      calls++;
      throw new RivuletError("BROKER", "not authorized");
    };
    const job = await run(perKey(), { broker, manual: true, retry: { initialMs: 1 } });
    await expect(job.drain()).rejects.toThrow("not authorized");
    expect(calls).toBe(1);
  });
});

describe("runFor: a bounded piece of work, then a checkpoint", () => {
  it("stops at maxRecords, commits, and says whether it caught up", async () => {
    const broker = await loaded(new MemoryBroker(REST_PROXY_CAPABILITIES), 40);
    const state = new MemoryStateStore();
    const options = { broker, state, manual: true, group: "g", maxBatch: 100 } as const;
    const job = await run(perKey(), options);
    expect(await job.runFor({ maxRecords: 15 })).toEqual({ records: 15, caughtUp: false });
    const afterFirst = job.metrics().checkpoints.count;
    expect(afterFirst).toBeGreaterThan(0);
    expect(await state.latest("g/0")).toBe(job.metrics().checkpoints.lastId);
    expect(await job.runFor({ maxRecords: 1_000 })).toEqual({ records: 25, caughtUp: true });
    expect(await job.runFor({ maxMs: 0 })).toEqual({ records: 0, caughtUp: false });
    expect(await job.runFor()).toEqual({ records: 0, caughtUp: true });
    // A new invocation (another process, a later request) goes on from the store's checkpoint.
    await broker.produce("in", events(50).slice(40));
    const next = await run(perKey(), options);
    expect(await next.runFor({ maxMs: 60_000 })).toEqual({ records: 10, caughtUp: true });
    await expect(job.runFor({ maxRecords: -1 })).rejects.toThrow(/non-negative/);
    const loose = await run(perKey(), { broker });
    await expect(loose.runFor()).rejects.toThrow(/manual: true/);
    await loose.stop();
  });

  it("checkpoints at its end only what is new since the last checkpoint: records, processing-time work", async () => {
    const broker = await loaded(new MemoryBroker(REST_PROXY_CAPABILITIES), 40);
    const state = new MemoryStateStore();
    const clock = new FakeClock(0);
    const pipeline = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { idleTimeout: 100 } })
      .keyBy((e) => e.k)
      .window(tumbling(10))
      .aggregate(count())
      .to("out");
    const job = await run(pipeline, { broker, state, clock, manual: true, group: "g", maxBatch: 100 });
    expect(await job.runFor()).toEqual({ records: 40, caughtUp: true });
    const taken = job.metrics().checkpoints.count;
    expect(taken).toBeGreaterThan(0);
    // Caught up with nothing new: the checkpoint the last step took stands, no copy of it.
    expect(await job.runFor()).toEqual({ records: 0, caughtUp: true });
    expect(job.metrics().checkpoints.count).toBe(taken);
    // Processing time passes the idle timeout: the inputs go idle (part of the snapshot).
    clock.advance(1_000);
    expect(await job.runFor()).toEqual({ records: 0, caughtUp: true });
    expect(job.metrics().checkpoints.count).toBe(taken + 1);
    const idle = job.metrics().checkpoints.lastId;
    expect(await state.latest("g/0")).toBe(idle);
    // New records: read and checkpointed.
    await broker.produce("in", events(45).slice(40));
    expect(await job.runFor()).toEqual({ records: 5, caughtUp: true });
    expect(job.metrics().checkpoints.count).toBeGreaterThan(taken + 1);
    expect(await state.latest("g/0")).not.toBe(idle);
    await job.stop();
  });
});

describe("static assignment", () => {
  it("a consumer reads every partition it is given, whatever else reads them, and hears of it once", async () => {
    const broker = await loaded(new MemoryBroker(REST_PROXY_CAPABILITIES), 10);
    const a = await broker.consumer({ group: "g", topics: ["in"] });
    const b = await broker.consumer({
      group: "g",
      topics: ["in"],
      partitions: [{ topic: "in", partition: 1 }],
    });
    const heard: unknown[] = [];
    a.onRebalance((e) => void heard.push(e));
    const polled = (await a.poll({ maxRecords: 100 })).reduce((n, x) => n + x.end - x.start, 0);
    expect(polled).toBe(10);
    await a.poll({ maxRecords: 100 });
    expect(heard).toEqual([
      {
        assigned: [
          { topic: "in", partition: 0 },
          { topic: "in", partition: 1 },
        ],
        revoked: [],
      },
    ]);
    await b.poll({ maxRecords: 100 });
    expect(b.assignment()).toEqual([{ topic: "in", partition: 1 }]);
    await expect(
      broker.consumer({ group: "g", topics: ["in"], partitions: [{ topic: "in", partition: 7 }] }),
    ).rejects.toThrow(/has no partition 7/);
  });
});

describe("a commit that leaves positions out keeps the checkpoint they name", () => {
  it("older checkpoints are dropped only after a commit of every position", async () => {
    const inner = await loaded(new MemoryBroker(), 40);
    const broker = Object.create(inner) as Broker;
    // As a Kafka member whose partition 1 moved to another member before its job saw the rebalance.
    let skip = false;
    broker.commit = async (tx) => {
      await inner.commit(tx);
      const moved = tx.offsets?.positions.filter((p) => p.partition === 1) ?? [];
      return skip && moved.length > 0 ? { skipped: moved } : undefined;
    };
    const state = new MemoryStateStore();
    const job = await run(perKey(), { broker, state, manual: true, group: "g" });
    await job.runFor({ maxRecords: 10 });
    const first = job.metrics().checkpoints.lastId!;
    expect(state.ids()).toEqual({ "g/0": [first], "g/1": [first] });

    skip = true;
    await job.runFor({ maxRecords: 10 });
    const second = job.metrics().checkpoints.lastId!;
    expect(second).not.toBe(first);
    // The first stays (with every checkpoint since): the other member restores partition 1 from
    // the checkpoint its offset names.
    for (const section of ["g/0", "g/1"])
      expect(state.ids()[section]).toEqual(expect.arrayContaining([first, second]));

    skip = false;
    await job.runFor({ maxRecords: 10 });
    const third = job.metrics().checkpoints.lastId!;
    expect(state.ids()).toEqual({ "g/0": [third], "g/1": [third] });
  });
});
