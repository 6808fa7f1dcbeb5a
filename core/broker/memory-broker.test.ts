import { describe, expect, it } from "vitest";
import { MemoryBroker } from "./memory-broker.js";
import { partitionForKey } from "./partitioner.js";
import { batchRecords } from "./records.js";

describe("MemoryBroker", () => {
  it("stores records with partitions, offsets, keys, headers and timestamps", async () => {
    const b = new MemoryBroker();
    await b.createTopic("t", { partitions: 3 });
    const stored = await b.produce("t", [
      { key: "a", value: 1, timestamp: 10, headers: { h: "x" } },
      { key: "a", value: 2, timestamp: 11 },
      { key: null, value: 3, partition: 2, timestamp: 12 },
    ]);
    const pa = partitionForKey("a", 3);
    expect(stored.map((r) => [r.partition, r.offset])).toEqual([
      [pa, 0],
      [pa, 1],
      [2, pa === 2 ? 2 : 0],
    ]);
    expect(stored[0]).toMatchObject({ topic: "t", key: "a", value: 1, timestamp: 10, headers: { h: "x" } });
    expect((await b.records("t")).map((r) => r.value).sort()).toEqual([1, 2, 3]);
    expect(await b.partitions("t")).toBe(3);
    expect(await b.partitions("nope")).toBeUndefined();
  });

  it("rejects bad topics and partitions with clear errors", async () => {
    const b = new MemoryBroker();
    await expect(b.createTopic("bad topic!")).rejects.toThrow(/may only contain/);
    await expect(b.createTopic("t", { partitions: 0 })).rejects.toThrow(/positive integer/);
    await expect(b.produce("missing", [{ value: 1 }])).rejects.toThrow(/topic "missing" does not exist/);
    await b.createTopic("t");
    await expect(b.produce("t", [{ value: 1, partition: 4 }])).rejects.toThrow(/no partition 4/);
  });

  it("commits records and offsets atomically: a failing transaction leaves nothing", async () => {
    const b = new MemoryBroker();
    await b.createTopic("in");
    await b.createTopic("out");
    await expect(
      b.commit({
        records: [
          { topic: "out", value: "ok" },
          { topic: "out", value: "bad", partition: 7 },
        ],
        offsets: { group: "g", positions: [{ topic: "in", partition: 0, offset: 5 }] },
      }),
    ).rejects.toThrow(/no partition 7/);
    expect(await b.records("out")).toEqual([]);
    expect(await b.committed("g", "in")).toEqual([]);
    await b.commit({
      records: [{ topic: "out", value: "ok", timestamp: 1 }],
      offsets: { group: "g", positions: [{ topic: "in", partition: 0, offset: 5, metadata: "cp-1" }] },
    });
    expect((await b.records("out")).map((r) => r.value)).toEqual(["ok"]);
    expect(await b.committed("g", "in")).toEqual([
      { topic: "in", partition: 0, offset: 5, metadata: "cp-1" },
    ]);
  });

  it("consumer groups split partitions, resume from committed offsets and rebalance on leave", async () => {
    const b = new MemoryBroker();
    await b.createTopic("t", { partitions: 4 });
    for (let p = 0; p < 4; p++)
      await b.produce("t", [
        { value: `p${p}-0`, partition: p },
        { value: `p${p}-1`, partition: p },
      ]);
    await b.commit({
      records: [],
      offsets: { group: "g", positions: [{ topic: "t", partition: 0, offset: 1 }] },
    });
    const c1 = await b.consumer({ group: "g", topics: ["t"] });
    const c2 = await b.consumer({ group: "g", topics: ["t"] });
    const events: string[] = [];
    c1.onRebalance(
      (e) =>
        void events.push(`c1 +${e.assigned.map((x) => x.partition)} -${e.revoked.map((x) => x.partition)}`),
    );
    const got1 = (await c1.poll({ maxRecords: 10 })).flatMap((x) => batchRecords(x).map((r) => r.value));
    const got2 = (await c2.poll({ maxRecords: 10 })).flatMap((x) => batchRecords(x).map((r) => r.value));
    expect(got1).toEqual(["p0-1", "p1-0", "p1-1"]); // partition 0 resumes at its committed offset
    expect(got2).toEqual(["p2-0", "p2-1", "p3-0", "p3-1"]);
    await c2.close();
    const after = (await c1.poll({ maxRecords: 10 })).flatMap((x) => batchRecords(x).map((r) => r.value));
    expect(after).toEqual(["p2-0", "p2-1", "p3-0", "p3-1"]); // nothing was committed for 2 and 3
    expect(events).toEqual(["c1 +0,1 -", "c1 +2,3 -"]);
    expect(c1.assignment().map((x) => x.partition)).toEqual([0, 1, 2, 3]);
  });

  it("polls at most maxRecords per partition and seeks", async () => {
    const b = new MemoryBroker();
    await b.createTopic("t");
    await b.produce(
      "t",
      [1, 2, 3, 4, 5].map((value) => ({ value })),
    );
    const c = await b.consumer({ group: "g", topics: ["t"] });
    const first = await c.poll({ maxRecords: 2 });
    expect(batchRecords(first[0]!).map((r) => r.value)).toEqual([1, 2]);
    expect(first[0]!.highWatermark).toBe(5);
    c.seek("t", 0, 4);
    expect(batchRecords((await c.poll({ maxRecords: 2 }))[0]!).map((r) => r.value)).toEqual([5]);
    expect(() => c.seek("t", 3, 0)).toThrow(/not assigned/);
  });

  it("wakes a waiting consumer when records arrive", async () => {
    const b = new MemoryBroker();
    await b.createTopic("t");
    const c = await b.consumer({ group: "g", topics: ["t"] });
    await c.poll({ maxRecords: 1 });
    let woke = false;
    const waiting = c.wait(60_000).then(() => (woke = true));
    expect(woke).toBe(false);
    await b.produce("t", [{ value: 1 }]);
    await waiting;
    expect(woke).toBe(true);
  });
});

describe("MemoryBroker retention", () => {
  it("drops whole chunks below an offset; readers below the log start read from it", async () => {
    const b = new MemoryBroker();
    b.createTopicSync("t", { partitions: 1 });
    b.produceSync(
      "t",
      Array.from({ length: 1000 }, (_, i) => ({ value: i })),
    );
    const c = await b.consumer({ group: "g", topics: ["t"] });
    const first = await c.poll({ maxRecords: 10 });
    expect(first[0]!.firstOffset).toBe(0);
    // Chunks hold 256, 512, ... records: dropping below 600 drops the first (0-255) only ...
    expect(b.dropBefore("t", [600])).toEqual([256]);
    expect(b.startOffsets("t")).toEqual([256]);
    expect(b.endOffsets("t")).toEqual([1000]);
    const all = b.recordsSync<number>("t");
    expect(all[0]).toMatchObject({ offset: 256, value: 256 });
    expect(all).toHaveLength(744);
    // ... and the consumer at offset 10 goes on from 256.
    const next = await c.poll({ maxRecords: 5 });
    expect([next[0]!.firstOffset, next[0]!.end - next[0]!.start]).toEqual([256, 5]);
    const after = await c.poll({ maxRecords: 1 });
    expect(after[0]!.firstOffset).toBe(261);
    expect(b.dropBefore("t", [100])).toEqual([256]); // never goes back
  });
});
