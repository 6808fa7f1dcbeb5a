// IndexedDbBroker and IndexedDbStateStore on the page's own IndexedDB.
import { OutputBuffer, type ProduceRecord, run } from "rivulet";
import { IndexedDbBroker, IndexedDbStateStore } from "rivulet/browser";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecords } from "../../adapters/browser/columns.js";

const db = () => `rivulet-idb-${Math.random().toString(36).slice(2)}`;
const opened: IndexedDbBroker[] = [];
afterEach(() => {
  for (const b of opened.splice(0)) b.close();
});
const open = async (name: string, retention?: Record<string, { maxRecords?: number }>) => {
  const b = await IndexedDbBroker.open(retention ? { name, retention } : { name });
  opened.push(b);
  return b;
};

describe("IndexedDbBroker", () => {
  it("keeps topics, records (keys, headers, timestamps, offsets) and committed offsets across opens", async () => {
    const name = db();
    const a = await open(name);
    await a.createTopic("t", { partitions: 2 });
    await a.produce("t", [
      { key: "k1", value: { n: 1 }, timestamp: 10, headers: { h: "x" } },
      { key: "k2", value: new Map([["m", 1]]), timestamp: 20 },
      { value: "no key", timestamp: 30, partition: 1 },
    ]);
    await a.commit({
      records: [],
      offsets: { group: "g", positions: [{ topic: "t", partition: 0, offset: 1, metadata: "g-1" }] },
    });
    const before = await a.records("t");
    a.close();
    const b = await open(name);
    expect(await b.records("t")).toEqual(before);
    expect(await b.committed("g", "t")).toEqual([{ topic: "t", partition: 0, offset: 1, metadata: "g-1" }]);
    expect((await b.records<Map<string, number>>("t")).find((r) => r.key === "k2")!.value.get("m")).toBe(1);
  });

  it("a commit's records of a partition are one IndexedDB value (a segment), not one per record", async () => {
    const name = db();
    const a = await open(name);
    await a.createTopic("t", { partitions: 2 });
    await a.produce(
      "t",
      Array.from({ length: 1_000 }, (_, i) => ({ value: i, partition: i % 2, timestamp: i })),
    );
    a.close();
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const count = await new Promise<number>((resolve) => {
      const r = raw.transaction("segments").objectStore("segments").count();
      r.onsuccess = () => resolve(r.result);
    });
    raw.close();
    expect(count).toBe(2);
  });

  it("a produce batch encoded on the page is stored as it came when it all goes to one partition", async () => {
    const name = db();
    const a = await open(name, { t: { maxRecords: 1_500 } });
    await a.createTopic("t");
    await a.createTopic("two", { partitions: 2 });
    const batch = (from: number, n: number): ProduceRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        key: `u${(from + i) % 7}`,
        value: { userId: `u${(from + i) % 7}`, n: from + i, ok: i % 3 === 0, none: null },
        timestamp: 1_000 + from + i,
        ...(i === 5 ? { headers: { h: String(from) } } : {}),
      }));
    /** What the worker does with a batch from the page: decode it, then produceColumns. */
    const produce = (broker: IndexedDbBroker, topic: string, records: ProduceRecord[]) => {
      const out = new OutputBuffer();
      for (const r of records) out.add({ ...r, topic });
      return broker.produceColumns(out, encodeRecords(records, []));
    };
    await produce(a, "t", batch(0, 1_000));
    await produce(a, "t", batch(1_000, 1_000));
    // Two partitions, and records without timestamps: plain segments.
    await produce(a, "two", batch(0, 10));
    await produce(
      a,
      "t",
      batch(2_000, 3).map(({ timestamp: _, ...r }) => r),
    );
    const before = { t: await a.records("t"), two: await a.records("two") };
    a.close();
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const segments = await new Promise<{ key: IDBValidKey; value: object }[]>((resolve) => {
      const out: { key: IDBValidKey; value: object }[] = [];
      const r = raw.transaction("segments").objectStore("segments").openCursor();
      r.onsuccess = () => {
        const c = r.result;
        if (!c) return resolve(out);
        out.push({ key: c.key, value: c.value });
        c.continue();
      };
    });
    expect(raw.version).toBe(3);
    raw.close();
    expect(segments.map((s) => [s.key, "encoded" in s.value])).toEqual([
      [["t", 0, 1_000], true],
      [["t", 0, 2_000], true],
      [["t", 0, 2_003], false],
      [["two", 0, expect.any(Number)], false],
      [["two", 1, expect.any(Number)], false],
    ]);
    // Read back, the same records, offsets, timestamps and headers.
    const b = await open(name, { t: { maxRecords: 1_500 } });
    expect({ t: await b.records("t"), two: await b.records("two") }).toEqual(before);
    expect(before.t.slice(1_998, 2_001).map((r) => [r.offset, r.key, r.timestamp >= 1_000])).toEqual([
      [1_998, "u3", true],
      [1_999, "u4", true],
      [2_000, "u5", true],
    ]);
    // Retention trims the encoded segment holding the new start (decoded, kept as plain columns).
    await new Promise((r) => setTimeout(r, 1_100)); // retention runs at most once a second
    await produce(b, "t", batch(3_000, 1));
    const kept = await b.records("t");
    expect(kept[0]!.offset).toBeGreaterThan(0);
    expect(kept[0]!.offset).toBeLessThan(1_000); // inside the first segment
    b.close();
    const c = await open(name, { t: { maxRecords: 1_500 } });
    expect(await c.records("t")).toEqual(kept);
    expect(kept.at(-1)).toMatchObject({ offset: 2_003, value: { n: 3_000 } });
  });

  it("commits that wait for one being written go together in one transaction, each all or nothing", async () => {
    const name = db();
    const a = await open(name);
    await a.createTopic("t", { partitions: 2 });
    let transactions = 0;
    const transaction = IDBDatabase.prototype.transaction;
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args) {
      transactions++;
      return transaction.apply(this, args);
    } as typeof transaction;
    // Five at once: the first is written alone, the four that came meanwhile together, except
    // the two that cannot be: a partition the topic does not have, a value IndexedDB cannot store.
    const results = await Promise.allSettled([
      a.produce("t", [{ value: "a", partition: 0, timestamp: 1 }]),
      a.produce("t", [{ value: "b", partition: 1, timestamp: 2 }]),
      a.produce("t", [
        { value: "c", partition: 0, timestamp: 3 },
        { value: "no such partition", partition: 2, timestamp: 3 },
      ]),
      a.produce("t", [
        { value: "d", partition: 0, timestamp: 4 },
        { value: () => "not cloneable", partition: 0, timestamp: 4 },
      ]),
      a.produce("t", [{ value: "e", partition: 0, timestamp: 5 }]),
      a.commit({
        records: [{ topic: "t", value: "f", partition: 1, timestamp: 6 }],
        offsets: { group: "g", positions: [{ topic: "t", partition: 0, offset: 1 }] },
      }),
    ]);
    IDBDatabase.prototype.transaction = transaction;
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({
      code: "STATE",
      message: expect.stringMatching(/could not be cloned/),
    });
    // a alone; b, d (fails at its write: the group is written again without it), e, f; then b, e, f.
    expect(transactions).toBe(3);
    const held = (await a.records("t")).map((r) => [r.partition, r.offset, r.value]);
    expect(held).toEqual([
      [0, 0, "a"],
      [0, 1, "e"],
      [1, 0, "b"],
      [1, 1, "f"],
    ]);
    a.close();
    const b = await open(name);
    expect((await b.records("t")).map((r) => [r.partition, r.offset, r.value])).toEqual(held);
    expect(await b.committed("g", "t")).toEqual([{ topic: "t", partition: 0, offset: 1 }]);
  });

  it("opens a version 1 database (a value per record) and regroups its records into segments", async () => {
    const name = db();
    // Version 1's layout, written by hand: topics, records keyed [topic, partition, offset], offsets.
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        d.createObjectStore("topics", { keyPath: "name" }).put({ name: "t", partitions: 2 });
        const records = d.createObjectStore("records");
        records.put({ key: "a", value: { n: 0 }, timestamp: 10, headers: { h: "x" } }, ["t", 0, 5]);
        records.put({ key: "b", value: { n: 1 }, timestamp: 11 }, ["t", 0, 6]);
        records.put({ key: null, value: "p1", timestamp: 12 }, ["t", 1, 0]);
        d.createObjectStore("offsets").put({ offset: 6, metadata: "g-1" }, ["g", "t", 0]);
        d.createObjectStore("state");
        d.createObjectStore("latest");
      };
      r.onsuccess = () => {
        r.result.close();
        resolve();
      };
      r.onerror = () => reject(r.error);
    });
    const b = await open(name);
    expect(
      (await b.records("t")).map(({ key, value, partition, offset, timestamp, headers }) => ({
        key,
        value,
        partition,
        offset,
        timestamp,
        headers,
      })),
    ).toEqual([
      { key: "a", value: { n: 0 }, partition: 0, offset: 5, timestamp: 10, headers: { h: "x" } },
      { key: "b", value: { n: 1 }, partition: 0, offset: 6, timestamp: 11, headers: {} },
      { key: null, value: "p1", partition: 1, offset: 0, timestamp: 12, headers: {} },
    ]);
    expect(await b.committed("g", "t")).toEqual([{ topic: "t", partition: 0, offset: 6, metadata: "g-1" }]);
    await b.produce("t", [{ value: "next", partition: 0, timestamp: 13 }]);
    b.close();
    const c = await open(name);
    expect((await c.records("t")).filter((r) => r.partition === 0).map((r) => r.offset)).toEqual([5, 6, 7]);
  });

  it("retention keeps at most maxRecords per partition (whole chunks), in memory and in the database", async () => {
    const name = db();
    const a = await open(name, { t: { maxRecords: 300 } });
    await a.createTopic("t");
    for (let i = 0; i < 10; i++)
      await a.produce(
        "t",
        Array.from({ length: 100 }, (_, j) => ({ value: i * 100 + j, timestamp: 1 })),
      );
    await new Promise((r) => setTimeout(r, 1_100)); // retention runs at most once a second
    await a.produce("t", [{ value: 1000, timestamp: 1 }]);
    const held = await a.records<number>("t");
    expect(held.length).toBeLessThan(1001);
    expect(held.at(-1)!.value).toBe(1000);
    a.close();
    const b = await open(name, { t: { maxRecords: 300 } });
    expect(await b.records("t")).toEqual(held);
    await b.produce("t", [{ value: 1001, timestamp: 1 }]);
    expect((await b.records<number>("t")).at(-1)).toMatchObject({ value: 1001, offset: 1001 });
  });

  it("a commit of outputs, offsets and state is one transaction: a failure (quota exceeded) leaves none of it", async () => {
    const name = db();
    const broker = await open(name);
    await broker.createTopic("in");
    const state = new IndexedDbStateStore(broker);
    expect(state.commitsWith(broker)).toBe(true);
    const { Pipeline, count } = await import("rivulet");
    const p = Pipeline.source<{ k: string }>("in", { timestamp: () => 1 })
      .keyBy((e) => e.k)
      .aggregate(count())
      .to("out");
    await broker.produce("in", [{ value: { k: "a" } }, { value: { k: "a" } }]);
    const job = await run(p, { broker, state, group: "g", manual: true });
    expect(job.metrics().protocol).toBe("in-commit");
    await job.flush();
    const committed = await broker.records("out");
    expect(committed.map((r) => (r.value as { value: number }).value)).toEqual([1, 2]);
    // The next commit hits a full quota at its first write.
    await broker.produce("in", [{ value: { k: "a" } }]);
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore) {
      throw new DOMException("the quota has been exceeded", "QuotaExceededError");
    } as typeof put;
    try {
      await expect(job.flush()).rejects.toMatchObject({
        code: "STATE",
        message: expect.stringMatching(/storage quota for this site is exceeded.*retention.*persist: false/),
      });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    broker.close();
    // Reopened: exactly what was committed before, its checkpoint and offsets with it.
    const again = await open(name);
    expect(await again.records("out")).toEqual(committed);
    expect((await again.committed("g", "in")).map((c) => c.offset)).toEqual([2]);
    const restarted = await run(p, {
      broker: again,
      state: new IndexedDbStateStore(again),
      group: "g",
      manual: true,
    });
    await restarted.flush();
    expect((await again.records("out")).map((r) => (r.value as { value: number }).value)).toEqual([1, 2, 3]);
  });
});
