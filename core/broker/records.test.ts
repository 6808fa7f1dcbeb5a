import { describe, expect, it } from "vitest";
import { MemoryBroker } from "./memory-broker.js";
import { MemoryLog } from "./memory-log.js";
import { batchOf, batchRecords, OutputBuffer, offsetAt, outputOf, recordAt } from "./records.js";

describe("OutputBuffer", () => {
  it("keeps records in columns, topics in runs, keys, headers and partitions from the first that has one", () => {
    const b = new OutputBuffer();
    b.push("a", null, 1, 10);
    b.push("a", null, 2, 11);
    b.push("b", "k", 3, 12, { h: "x" });
    b.add({ topic: "b", value: 4, partition: 1 });
    b.push("a", null, 5, 14);
    expect(b.length).toBe(5);
    expect(b.runs).toBe(3);
    expect([0, 1, 2].map((r) => [b.runTopic(r), b.runStart(r), b.runEnd(r)])).toEqual([
      ["a", 0, 2],
      ["b", 2, 4],
      ["a", 4, 5],
    ]);
    expect(b.unstamped).toBe(true);
    expect(b.toArray()).toEqual([
      { topic: "a", key: null, value: 1, timestamp: 10 },
      { topic: "a", key: null, value: 2, timestamp: 11 },
      { topic: "b", key: "k", value: 3, timestamp: 12, headers: { h: "x" } },
      { topic: "b", key: null, value: 4, partition: 1 },
      { topic: "a", key: null, value: 5, timestamp: 14 },
    ]);
    expect(b.record(3)).toEqual({ topic: "b", key: null, value: 4, partition: 1 });
    expect(b.writesTo(new Set(["b"]))).toBe(true);
    expect(b.writesTo(new Set(["c"]))).toBe(false);
  });

  it("is reused after clear: nothing of the previous records shows", () => {
    const b = new OutputBuffer();
    b.push("a", "k1", 1, 10, { h: "x" });
    b.add({ topic: "a", value: 2, partition: 0 });
    b.clear();
    expect(b.length).toBe(0);
    expect(b.keys).toBeUndefined();
    expect(b.toArray()).toEqual([]);
    b.push("z", null, 3, 30);
    expect(b.toArray()).toEqual([{ topic: "z", key: null, value: 3, timestamp: 30 }]);
    expect(b.headers).toBeUndefined();
    expect(b.partitions).toBeUndefined();
    expect(b.unstamped).toBe(false);
  });

  it("outputOf takes a buffer as it is and copies a list", () => {
    const b = new OutputBuffer();
    expect(outputOf(b)).toBe(b);
    expect(outputOf([{ topic: "t", key: "k", value: 1, timestamp: 5 }]).toArray()).toEqual([
      { topic: "t", key: "k", value: 1, timestamp: 5 },
    ]);
  });
});

describe("MemoryLog", () => {
  it("holds its records in chunks; a batch never spans two, records read back as written", () => {
    const log = new MemoryLog();
    const n = 70_000;
    for (let i = 0; i < n; i++)
      log.append(i % 7 === 0 ? `k${i}` : null, { i }, 1_000 + i, i === 300 ? { h: "y" } : undefined);
    expect(log.length).toBe(n);
    let offset = 0;
    let batches = 0;
    const wrong: number[] = [];
    while (offset < n) {
      const b = log.batch("t", 0, offset, 1000);
      expect(b.end - b.start).toBeGreaterThan(0);
      expect(b.end - b.start).toBeLessThanOrEqual(1000);
      for (let i = b.start; i < b.end; i++) {
        const o = offsetAt(b, i);
        if (
          o !== offset + (i - b.start) ||
          (b.values[i] as { i: number }).i !== o ||
          b.timestamps[i] !== 1_000 + o ||
          (b.keys?.[i] ?? null) !== (o % 7 === 0 ? `k${o}` : null)
        )
          wrong.push(o);
      }
      offset += b.end - b.start;
      batches++;
    }
    expect(wrong).toEqual([]);
    expect(batches).toBeGreaterThan(70); // chunk ends cut some batches short
    expect(log.record("t", 0, 300)).toEqual({
      topic: "t",
      partition: 0,
      offset: 300,
      key: null,
      value: { i: 300 },
      timestamp: 1_300,
      headers: { h: "y" },
    });
    expect(log.record("t", 0, 69_999).value).toEqual({ i: 69_999 });
    const end = log.batch("t", 0, n, 10);
    expect([end.end - end.start, end.highWatermark]).toEqual([0, n]);
  });

  it("appends columns across chunk boundaries", () => {
    const log = new MemoryLog();
    const values = Array.from({ length: 1_000 }, (_, i) => i);
    const ts = values.map((v) => v * 2);
    const keys = values.map((v) => (v % 2 ? `k${v}` : null));
    log.appendColumns(100, 1_000, values, ts, keys, undefined);
    log.appendColumns(0, 100, values, ts, undefined, undefined);
    expect(log.length).toBe(1_000);
    const all = [];
    for (let o = 0; o < log.length; o++) all.push(log.record("t", 0, o));
    expect(all.slice(0, 2).map((r) => [r.value, r.timestamp, r.key])).toEqual([
      [100, 200, null],
      [101, 202, "k101"],
    ]);
    expect(all.slice(-1).map((r) => [r.value, r.timestamp, r.key])).toEqual([[99, 198, null]]);
    expect(all.map((r) => r.value)).toEqual([...values.slice(100), ...values.slice(0, 100)]);
  });
});

describe("batches", () => {
  it("batchOf and recordAt round-trip records held as objects (offsets with gaps, as Kafka's)", () => {
    const records = [
      { topic: "t", partition: 2, offset: 5, key: "a", value: 1, timestamp: 10, headers: {} },
      { topic: "t", partition: 2, offset: 7, key: null, value: 2, timestamp: 11, headers: { h: "x" } },
    ];
    const b = batchOf({ topic: "t", partition: 2 }, records, 9);
    expect(batchRecords(b)).toEqual(records);
    expect(recordAt(b, 1).offset).toBe(7);
    expect(b.highWatermark).toBe(9);
  });

  it("a broker's committed outputs are copied: the job's buffer can be reused at once", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("t");
    await broker.createTopic("p", { partitions: 2 });
    const out = new OutputBuffer();
    out.push("t", null, "a", 1);
    out.push("p", "k", "b", 2);
    await broker.commit({ records: out });
    out.clear();
    out.push("t", null, "c", 3);
    await broker.commit({ records: out });
    expect((await broker.records("t")).map((r) => [r.offset, r.value, r.timestamp])).toEqual([
      [0, "a", 1],
      [1, "c", 3],
    ]);
    expect((await broker.records("p")).map((r) => [r.key, r.value])).toEqual([["k", "b"]]);
  });
});
