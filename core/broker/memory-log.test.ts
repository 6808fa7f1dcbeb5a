import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Headers } from "../types.js";
import { MemoryBroker } from "./memory-broker.js";
import { MemoryLog } from "./memory-log.js";
import { offsetAt } from "./records.js";

/** A record as the reference model holds it. */
interface Rec {
  key: string | null;
  value: unknown;
  timestamp: number;
  headers: Headers | undefined;
}

/** Every record from `log.start` on, read through `batch` (at most `max` a poll), with its offset. */
function readAll(log: MemoryLog, max: number): { offsets: number[]; records: Rec[]; polls: number } {
  const offsets: number[] = [];
  const records: Rec[] = [];
  let offset = 0;
  let polls = 0;
  for (;;) {
    const b = log.batch("t", 0, offset, max);
    if (b.end === b.start) return { offsets, records, polls };
    polls++;
    for (let i = b.start; i < b.end; i++) {
      offsets.push(offsetAt(b, i));
      records.push({
        key: b.keys?.[i] ?? null,
        value: b.values[i],
        timestamp: b.timestamps[i]!,
        headers: b.headers?.[i],
      });
    }
    offset = b.firstOffset + (b.end - b.start);
  }
}

const rec = (o: number, tag: string): Rec => ({
  key: o % 3 === 0 ? null : `k${o}`,
  value: { o, tag },
  timestamp: 1_000 + o,
  headers: o % 11 === 0 ? { h: `${o}` } : undefined,
});

/** `n` records from offset `from` as columns handed over (timestamps as an Int32Array, as decoded). */
function columns(from: number, n: number, tag: string, withHeaders = true) {
  const rs = Array.from({ length: n }, (_, i) => rec(from + i, tag));
  return {
    rs,
    values: rs.map((r) => r.value),
    timestamps: Int32Array.from(rs.map((r) => r.timestamp)),
    keys: rs.map((r) => r.key),
    headers: withHeaders ? rs.map((r) => r.headers) : undefined,
  };
}

describe("MemoryLog.adopt", () => {
  it("takes the columns as a chunk of its own, no copy, between ordinary chunks; reads cross them", () => {
    const log = new MemoryLog();
    const model: Rec[] = [];
    for (let o = 0; o < 300; o++) {
      const r = rec(o, "a");
      log.append(r.key, r.value, r.timestamp, r.headers);
      model.push(r);
    }
    const c = columns(300, 5_000, "adopted");
    log.adopt(c.values, c.timestamps, c.keys, c.headers);
    model.push(...c.rs);
    for (let o = 5_300; o < 5_400; o++) {
      const r = rec(o, "b");
      log.append(r.key, r.value, r.timestamp, r.headers);
      model.push(r);
    }
    expect(log.length).toBe(5_400);
    // The adopted columns are the log's: a batch from inside them hands out the very arrays.
    const inside = log.batch("t", 0, 1_000, 100);
    expect(inside.values).toBe(c.values);
    expect(inside.timestamps).toBe(c.timestamps);
    expect([inside.start, inside.end, inside.firstOffset]).toEqual([700, 800, 1_000]);
    // A batch never spans two chunks: it stops at the adopted chunk's end.
    const edge = log.batch("t", 0, 5_250, 1_000);
    expect([edge.firstOffset, edge.end - edge.start]).toEqual([5_250, 50]);
    const all = readAll(log, 1_000);
    expect(all.offsets).toEqual(model.map((_, o) => o));
    expect(all.records).toEqual(model);
    expect(log.record("t", 0, 300)).toMatchObject({
      offset: 300,
      key: null,
      value: { o: 300, tag: "adopted" },
    });
    expect(log.record("t", 0, 5_300).value).toEqual({ o: 5_300, tag: "b" });
  });

  it("copies a small batch instead (a chunk of a few records would cut polls short)", () => {
    const log = new MemoryLog();
    const c = columns(0, 10, "small");
    log.adopt(c.values, c.timestamps, c.keys, undefined);
    c.values[0] = "changed afterwards";
    expect(log.record("t", 0, 0).value).toEqual({ o: 0, tag: "small" });
    expect(readAll(log, 100).records.map((r) => r.value)).toEqual(c.rs.map((r) => r.value));
  });

  it("refuses columns of different lengths", () => {
    const log = new MemoryLog();
    expect(() => log.adopt([1, 2], new Float64Array(1), undefined, undefined)).toThrow(/different lengths/);
    expect(() => log.adopt([1, 2], new Float64Array(2), ["a"], undefined)).toThrow(/different lengths/);
    expect(log.length).toBe(0);
  });

  it("retention drops adopted chunks whole; readers below the start read from it", () => {
    const log = new MemoryLog();
    for (let b = 0; b < 4; b++) {
      const c = columns(b * 2_000, 2_000, `b${b}`, false);
      log.adopt(c.values, c.timestamps, c.keys, undefined);
    }
    log.append("x", { o: 8_000 }, 9_000, undefined);
    log.dropBefore(4_500); // the chunk holding 4 500 stays: it starts at 4 000
    expect(log.start).toBe(4_000);
    const first = log.batch("t", 0, 0, 10);
    expect([first.firstOffset, (first.values[first.start] as { o: number }).o]).toEqual([4_000, 4_000]);
    expect(readAll(log, 5_000).offsets).toEqual(Array.from({ length: 4_001 }, (_, i) => 4_000 + i));
    log.dropBefore(8_000); // the appended chunk after the adopted ones starts at 8 000
    expect([log.start, log.length]).toEqual([8_000, 8_001]);
    expect(log.record("t", 0, 8_000).key).toBe("x");
  });

  it("after startAt, adopted chunks start at the log's offset", () => {
    const log = new MemoryLog();
    log.startAt(42);
    const c = columns(42, 2_000, "s");
    log.adopt(c.values, c.timestamps, c.keys, c.headers);
    expect([log.start, log.length]).toEqual([42, 2_042]);
    expect(log.record("t", 0, 42).value).toEqual({ o: 42, tag: "s" });
    expect(log.record("t", 0, 2_041).timestamp).toBe(1_000 + 2_041);
  });

  it("any mix of appends, column appends, adoptions and retention reads back as a plain array would", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("append" as const), n: fc.integer({ min: 1, max: 700 }) }),
      fc.record({ kind: fc.constant("columns" as const), n: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ kind: fc.constant("adopt" as const), n: fc.integer({ min: 1, max: 6_000 }) }),
      fc.record({ kind: fc.constant("deferred" as const), n: fc.integer({ min: 1, max: 6_000 }) }),
      fc.record({ kind: fc.constant("drop" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.integer({ min: 1, max: 5_000 }), (ops, max) => {
        const log = new MemoryLog();
        const model: Rec[] = [];
        let start = 0;
        for (const o of ops) {
          const from = model.length;
          if (o.kind === "append")
            for (let i = 0; i < o.n; i++) {
              const r = rec(from + i, "append");
              log.append(r.key, r.value, r.timestamp, r.headers);
              model.push(r);
            }
          else if (o.kind === "columns") {
            const c = columns(from, o.n, "columns");
            log.appendColumns(0, o.n, c.values, c.timestamps, c.keys, c.headers);
            model.push(...c.rs);
          } else if (o.kind === "adopt") {
            const c = columns(from, o.n, "adopt", o.n % 2 === 0);
            log.adopt(c.values, c.timestamps, c.keys, c.headers);
            model.push(...(c.headers ? c.rs : c.rs.map((r) => ({ ...r, headers: undefined }))));
          } else if (o.kind === "deferred") {
            log.adoptDeferred(Float64Array.from(columns(from, o.n, "deferred").timestamps), () => {
              const c = columns(from, o.n, "deferred", o.n % 2 === 0);
              return { values: c.values, keys: c.keys, headers: c.headers };
            });
            const c = columns(from, o.n, "deferred", o.n % 2 === 0);
            model.push(...(c.headers ? c.rs : c.rs.map((r) => ({ ...r, headers: undefined }))));
          } else {
            const before = log.start;
            log.dropBefore(Math.floor(o.at * model.length));
            // Whole chunks only, never past the offset asked for, never back.
            expect(log.start).toBeGreaterThanOrEqual(before);
            expect(log.start).toBeLessThanOrEqual(Math.max(before, Math.floor(o.at * model.length)));
            start = log.start;
          }
          expect(log.length).toBe(model.length);
        }
        const all = readAll(log, max);
        expect(all.offsets).toEqual(model.slice(start).map((_, i) => start + i));
        expect(all.records).toEqual(model.slice(start));
      }),
      { numRuns: 150 },
    );
  });
});

describe("MemoryLog.adoptDeferred", () => {
  /** A deferred batch of `n` records from offset `from`, and how many times its columns were made. */
  function deferred(log: MemoryLog, from: number, n: number, tag: string) {
    const made = { count: 0 };
    const c = columns(from, n, tag);
    log.adoptDeferred(c.timestamps, () => {
      made.count++;
      const fresh = columns(from, n, tag);
      return { values: fresh.values, keys: fresh.keys, headers: fresh.headers };
    });
    return { made, rs: c.rs };
  }

  it("makes a chunk's columns when it is first read, once for polls through it", () => {
    const log = new MemoryLog();
    const a = deferred(log, 0, 5_000, "a");
    expect([log.length, a.made.count]).toEqual([5_000, 0]);
    const first = log.batch("t", 0, 0, 100);
    expect(a.made.count).toBe(1);
    // The timestamps are the ones handed over; the other columns made whole, once.
    expect(log.batch("t", 0, 4_900, 100).values).toBe(first.values);
    const all = readAll(log, 100);
    expect(all.records).toEqual(a.rs);
    expect([all.polls, a.made.count]).toEqual([50, 1]);
  });

  it("keeps the columns of the two chunks read last, and makes them again when read after", () => {
    const log = new MemoryLog();
    const batches = [0, 1, 2].map((b) => deferred(log, b * 2_000, 2_000, `b${b}`));
    const first = log.batch("t", 0, 0, 10);
    log.batch("t", 0, 2_000, 10);
    expect(log.batch("t", 0, 0, 10).values).toBe(first.values); // 2 made: still kept
    expect(batches.map((b) => b.made.count)).toEqual([1, 1, 0]);
    log.batch("t", 0, 4_000, 10); // a third: the first's are let go
    const again = log.batch("t", 0, 0, 10);
    expect(batches[0]!.made.count).toBe(2);
    expect(again.values).not.toBe(first.values);
    // Equal records, as a consumer re-reading from a checkpoint would see them; the batch handed
    // out before keeps its arrays.
    expect(again.values.slice(0, 10)).toEqual(first.values.slice(0, 10));
    expect((first.values[3] as { o: number }).o).toBe(3);
    expect(readAll(log, 700).records).toEqual(batches.flatMap((b) => b.rs));
  });

  it("makes a small batch at once and copies it; checks the rows made", () => {
    const log = new MemoryLog();
    const small = deferred(log, 0, 10, "small");
    expect(small.made.count).toBe(1);
    expect(readAll(log, 100).records).toEqual(small.rs);
    expect(small.made.count).toBe(1);
    log.adoptDeferred(new Float64Array(2_000), () => ({ values: [1] }));
    expect(() => log.batch("t", 0, 10, 1)).toThrow(/columns of 1 rows made for 2000 records/);
  });

  it("retention drops deferred chunks whole, made or not", () => {
    const log = new MemoryLog();
    const batches = [0, 1, 2].map((b) => deferred(log, b * 2_000, 2_000, `b${b}`));
    log.batch("t", 0, 0, 1);
    log.dropBefore(4_000);
    expect(log.start).toBe(4_000);
    expect(readAll(log, 5_000).records).toEqual(batches[2]!.rs);
    expect(batches.map((b) => b.made.count)).toEqual([1, 0, 1]);
  });
});

describe("MemoryBroker.adoptDeferred", () => {
  it("keeps a one-partition topic's batch deferred, wakes consumers, reads as produce would store", async () => {
    const b = new MemoryBroker();
    await b.createTopic("one");
    const consumer = await b.consumer({ group: "g", topics: ["one"] });
    await consumer.poll({ maxRecords: 0 });
    const woken = consumer.wait(60_000);
    let made = 0;
    const c = columns(0, 3_000, "d");
    b.adoptDeferred("one", c.timestamps, () => {
      made++;
      return { values: c.values, keys: c.keys, headers: c.headers };
    });
    await woken;
    expect(made).toBe(0);
    const stored = await b.records("one");
    expect(stored.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))).toEqual(
      c.rs.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp })),
    );
    expect(stored[11]!.headers).toEqual({ h: "11" });
    expect(made).toBe(1);
  });

  it("makes the columns at once in a topic of several partitions, or when a record has no timestamp", async () => {
    const b = new MemoryBroker();
    b.now = () => 777;
    const reference = new MemoryBroker();
    reference.now = () => 777;
    await b.createTopic("many", { partitions: 3 });
    await reference.createTopic("many", { partitions: 3 });
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i % 50}`);
    const values = keys.map((k, i) => ({ k, i }));
    await reference.produce(
      "many",
      keys.map((key, i) => ({ key, value: values[i], timestamp: i })),
    );
    let made = 0;
    const load = () => {
      made++;
      return { values, keys };
    };
    b.adoptDeferred(
      "many",
      Float64Array.from(keys, (_, i) => i),
      load,
    );
    expect(made).toBe(1);
    expect(await b.records("many")).toEqual(await reference.records("many"));
    await b.createTopic("one");
    const timestamps = new Float64Array(2_000).fill(5);
    timestamps[1] = Number.NaN;
    b.adoptDeferred("one", timestamps, load);
    expect(made).toBe(2);
    expect((await b.records("one")).slice(0, 2).map((r) => [r.key, r.timestamp])).toEqual([
      ["k0", 5],
      ["k1", 777],
    ]);
  });
});

describe("MemoryBroker.adoptColumns", () => {
  it("stores the records as produce would, in order, and wakes consumers", async () => {
    const b = new MemoryBroker();
    await b.createTopic("one");
    const consumer = await b.consumer({ group: "g", topics: ["one"] });
    await consumer.poll({ maxRecords: 0 });
    const woken = consumer.wait(60_000);
    await b.produce("one", [{ key: "first", value: "p", timestamp: 1 }]);
    await woken;
    const c = columns(1, 3_000, "adopted");
    b.adoptColumns("one", { values: c.values, timestamps: c.timestamps, keys: c.keys, headers: c.headers });
    const stored = await b.records("one");
    expect(stored.map((r) => r.offset)).toEqual(Array.from({ length: 3_001 }, (_, i) => i));
    expect(stored[0]).toMatchObject({ key: "first", value: "p", timestamp: 1 });
    expect(stored.slice(1).map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))).toEqual(
      c.rs.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp })),
    );
    expect(stored[11]!.headers).toEqual({ h: "11" });
    // A poll reads within one chunk: the first (sealed at one record), then the adopted one.
    const sizes: number[] = [];
    while (!consumer.atEnd!())
      for (const p of await consumer.poll({ maxRecords: 10_000 })) sizes.push(p.end - p.start);
    expect(sizes).toEqual([1, 3_000]);
  });

  it("places records by key in a topic of several partitions, and stamps NaN with its clock", async () => {
    const b = new MemoryBroker();
    b.now = () => 777;
    await b.createTopic("many", { partitions: 3 });
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i % 50}`);
    const reference = new MemoryBroker();
    reference.now = () => 777;
    await reference.createTopic("many", { partitions: 3 });
    const values = keys.map((k, i) => ({ k, i }));
    const timestamps = keys.map((_, i) => (i % 5 === 0 ? Number.NaN : i));
    await reference.produce(
      "many",
      keys.map((key, i) => ({ key, value: values[i], ...(i % 5 === 0 ? {} : { timestamp: i }) })),
    );
    b.adoptColumns("many", { values, timestamps, keys });
    expect(await b.records("many")).toEqual(await reference.records("many"));
    // In one partition too, an unstamped record takes the broker's clock.
    await b.createTopic("one");
    b.adoptColumns("one", { values: [1, 2], timestamps: [5, Number.NaN] });
    expect((await b.records("one")).map((r) => [r.key, r.timestamp])).toEqual([
      [null, 5],
      [null, 777],
    ]);
  });

  it("rejects an unknown topic and columns of different lengths, storing nothing", async () => {
    const b = new MemoryBroker();
    await b.createTopic("t");
    expect(() => b.adoptColumns("nope", { values: [1], timestamps: [1] })).toThrow(/does not exist/);
    expect(() => b.adoptColumns("t", { values: [1, 2], timestamps: [1] })).toThrow(/different lengths/);
    expect(b.endOffsets("t")).toEqual([0]);
  });
});
