import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { run } from "../../core/index.js";
import { dropRepeats, FakeClock, MemoryBroker, REST_PROXY_CAPABILITIES } from "../../core/testing.js";
import { actionsArb, runWithCrashes } from "../../test/fixtures/crashes.js";
import { everyState, OUTPUTS } from "../../test/fixtures/every-state.js";
import { KeyValueStateStore, type KeyValueStorage, memoryStorage } from "./kv-state-store.js";

const cp = (id: string, sections: Record<string, unknown>) => ({
  id,
  seq: Number(id.slice(id.lastIndexOf("-") + 1)),
  sections: new Map(Object.entries(sections)),
});

describe("KeyValueStateStore", () => {
  it("stores structured snapshots in parts, finds the latest of each section, retains one", async () => {
    const storage = memoryStorage();
    const store = new KeyValueStateStore(storage, { maxValueChars: 16 });
    const big = { m: new Map([["k", "x".repeat(100)]]), u: undefined, n: Number.NaN };
    await store.put(cp("g-1", { "g/0": big, "g/1": 1 }));
    await store.put(cp("g-2", { "g/0": { small: true } }));
    expect([...storage.map.values()].every((v) => v.length <= 16 || v.startsWith('{"parts"'))).toBe(true);
    expect(await store.get("g/0", "g-1")).toEqual(big);
    expect(await store.get("g/0", "g-2")).toEqual({ small: true });
    expect(await store.get("g/0", "g-3")).toBeUndefined();
    expect(await store.latest("g/0")).toBe("g-2");
    expect(await store.latest("g/1")).toBe("g-1");
    expect(await store.latest("g/2")).toBeUndefined();
    await store.retain("g/0", "g-2");
    expect(await store.get("g/0", "g-1")).toBeUndefined();
    expect(await store.get("g/1", "g-1")).toBe(1); // another section: untouched
    expect([...storage.map.keys()].filter((k) => k.includes("g-1")).every((k) => k.includes("g%2F1"))).toBe(
      true,
    );
  });

  it("writes a checkpoint in one atomic write: a failed write leaves the previous one whole", async () => {
    const inner = memoryStorage();
    let fail = false;
    const storage: KeyValueStorage = {
      ...inner,
      write: async (e, d) => {
        if (fail) throw new Error("storage unavailable");
        return inner.write(e, d);
      },
    };
    const store = new KeyValueStateStore(storage, { maxValueChars: 16 });
    await store.put(cp("g-1", { "g/0": "a".repeat(50) }));
    fail = true;
    await expect(store.put(cp("g-2", { "g/0": "b".repeat(50) }))).rejects.toMatchObject({
      code: "STATE",
      retriable: true,
    });
    expect(await store.latest("g/0")).toBe("g-1");
    expect(await store.get("g/0", "g-1")).toBe("a".repeat(50));
  });

  it("a part gone missing is a clear error, not a shorter snapshot", async () => {
    const storage = memoryStorage();
    const store = new KeyValueStateStore(storage, { maxValueChars: 16 });
    await store.put(cp("g-1", { "g/0": "z".repeat(40) }));
    storage.map.delete([...storage.map.keys()].find((k) => k.endsWith("/1"))!);
    await expect(store.get("g/0", "g-1")).rejects.toThrow(/misses part 1 of 3/);
  });

  it("holds the offsets for a job on a REST-proxy-like broker: crashes anywhere, no loss, identical repeats", async () => {
    const load = async (broker: MemoryBroker, input: { k: string; ts: number; p: number }[]) => {
      for (const t of ["in", "other"]) await broker.createTopic(t, { partitions: 2 });
      await broker.produce(
        "in",
        input.map((e, id) => ({ key: e.k, value: { id, ...e }, partition: e.p })),
      );
      await broker.produce(
        "other",
        input.map((e, id) => ({ key: e.k, value: { id: 500 + id, ...e }, partition: e.p })),
      );
    };
    const input = fc.array(
      fc.record({
        k: fc.constantFrom("a", "b", "c"),
        ts: fc.integer({ min: 0, max: 120 }),
        p: fc.integer({ min: 0, max: 1 }),
      }),
      { maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(input, actionsArb, async (evs, actions) => {
        const options = { manual: true, maxBatch: 3, clock: new FakeClock(0), group: "g" } as const;
        const whole = new MemoryBroker();
        await load(whole, evs);
        await (await run(everyState(), { broker: whole, ...options })).drain();
        const broker = new MemoryBroker(REST_PROXY_CAPABILITIES);
        await load(broker, evs);
        const state = new KeyValueStateStore(memoryStorage(), { maxValueChars: 64 });
        await runWithCrashes(everyState, { broker, state, ...options, checkpointInterval: 1 }, actions);
        for (const t of OUTPUTS) {
          const got = dropRepeats(await broker.records(t)).map((r) =>
            JSON.stringify([r.key, r.value, r.timestamp]),
          );
          const want = (await whole.records(t)).map((r) => JSON.stringify([r.key, r.value, r.timestamp]));
          expect([t, got.sort()]).toEqual([t, want.sort()]);
        }
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
