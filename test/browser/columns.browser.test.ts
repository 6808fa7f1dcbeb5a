// The worker boundary's record encoding (adapters/browser/columns.ts), in real Chromium: what
// the worker decodes is what Chromium's structured clone of the plain columns gives it (the
// encoding it replaces), value for value, property order, -0 and NaN included, after a real
// transfer through a MessageChannel.

import fc from "fast-check";
import { columns } from "rivulet/browser";
import { describe, expect, it } from "vitest";
import {
  type DecodedRecords,
  decodeRecords,
  type EncodedRecords,
  encodeRecords,
  Kind,
} from "../../adapters/browser/columns.js";
import type { ProduceRecord } from "../../core/index.js";

/** Posts `message` through a MessageChannel (structured clone, `transfer` moved) and returns what arrives. */
function viaChannel<T>(message: T, transfer: Transferable[] = []): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<T>((resolve, reject) => {
    port2.onmessage = (e) => {
      port1.close();
      port2.close();
      resolve(e.data as T);
    };
    try {
      port1.postMessage(message, transfer);
    } catch (e) {
      reject(e);
    }
  });
}

/**
 * A value as a tree that tells apart what toEqual may not: -0, NaN, property order, holes,
 * prototypes (null-prototype objects come out of structured clone as plain objects).
 */
function shape(v: unknown, seen = new Map<object, number>()): unknown {
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v;
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v !== "object" || v === null) return v === undefined ? "undefined" : v;
  const id = seen.get(v);
  if (id !== undefined) return ["ref", id];
  seen.set(v, seen.size);
  const proto = Object.getPrototypeOf(v);
  const tag = proto === null ? "null" : (proto.constructor?.name ?? "?");
  if (ArrayBuffer.isView(v)) return [tag, Array.from(v as unknown as ArrayLike<unknown>, (x) => shape(x))];
  if (v instanceof Map) return [tag, [...v].map(([k, x]) => [shape(k, seen), shape(x, seen)])];
  if (v instanceof Set) return [tag, [...v].map((x) => shape(x, seen))];
  if (v instanceof Date) return [tag, v.getTime()];
  if (Array.isArray(v))
    return [
      tag,
      v.length,
      Object.keys(v).map((k) => [k, shape((v as unknown as Record<string, unknown>)[k], seen)]),
    ];
  return [tag, Object.keys(v).map((k) => [k, shape((v as Record<string, unknown>)[k], seen)])];
}

/** The decoded columns in the shape of the plain ones (`RecordColumns`), each value as a tree. */
function view(c: DecodedRecords | ReturnType<typeof columns>) {
  const arr = (xs: ArrayLike<unknown> | undefined) =>
    xs === undefined ? undefined : Array.from(xs, (x) => shape(x));
  return {
    values: arr(c.values),
    keys: arr(c.keys),
    timestamps: arr(c.timestamps),
    headers: arr(c.headers),
    partitions: arr(c.partitions),
  };
}

async function bothWays(records: ProduceRecord[]) {
  const expected = await viaChannel(columns(records));
  const transfer: ArrayBuffer[] = [];
  const encoded = encodeRecords(records, transfer);
  const arrived = await viaChannel<EncodedRecords>(encoded, transfer);
  return { expected: view(expected), actual: view(decodeRecords(arrived)), encoded: arrived };
}

const primitive = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53),
  fc.string(),
  fc.constantFrom("click", "view", ""),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
/** Keys that an object's own properties may have and a plain assignment would get wrong. */
const key = fc.oneof(
  fc.string(),
  fc.constantFrom("__proto__", "constructor", "toString", "0", "10", "1", "-1", "length", "valueOf"),
);
/** Objects with a few shapes (so batches have both a common shape and others), or anything. */
const value = fc.oneof(
  fc.record({ userId: fc.string(), kind: fc.constantFrom("click", "view"), ts: fc.integer() }),
  fc.record({ userId: primitive, kind: primitive, ts: primitive }, { requiredKeys: [] }),
  fc.dictionary(key, primitive, { maxKeys: 5 }),
  fc.dictionary(key, primitive, { maxKeys: 3 }).map((o) => Object.assign(Object.create(null), o)),
  primitive,
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    withObjectString: true,
  }),
);
const record: fc.Arbitrary<ProduceRecord> = fc
  .record(
    {
      key: fc.oneof(fc.string(), fc.constantFrom("u1", "u2"), fc.constant(null), fc.integer()),
      value,
      timestamp: fc.oneof(fc.integer(), fc.double(), fc.constant(1_733_000_000_123)),
      headers: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
      partition: fc.nat(3),
    },
    { requiredKeys: ["value"] },
  )
  .map((r) => r as ProduceRecord);
/** Records keyed by their value's `userId` when it has one (the keys then share its column). */
const keyedByValue: fc.Arbitrary<ProduceRecord> = record.map((r) => {
  const v = r.value as { userId?: unknown } | null;
  const id = typeof v === "object" && v !== null && Object.hasOwn(v, "userId") ? v.userId : undefined;
  // A number key too (the type says string; the broker makes it one, as structured clone keeps it).
  return typeof id === "string" || typeof id === "number" ? ({ ...r, key: id } as ProduceRecord) : r;
});

describe("records across the worker boundary, encoded in columns", () => {
  it("arrive exactly as structured clone of the plain columns gives them (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(record, { maxLength: 40 }),
          fc.array(fc.oneof(keyedByValue, record), { maxLength: 40 }),
        ),
        async (records) => {
          const { expected, actual } = await bothWays(records);
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("values of the batch's shape with primitive properties go by column, the rest as they are", async () => {
    const map = new Map([["m", 1]]);
    const records: ProduceRecord[] = [
      { key: "u1", value: { userId: "u1", kind: "click", ts: 10 }, timestamp: 10 },
      { key: "u2", value: { userId: "u2", kind: "view", ts: -0 }, timestamp: 20 },
      { key: "u1", value: { userId: "u1", kind: null, ts: Number.NaN }, timestamp: 30 },
      { key: "u1", value: { userId: "u1", kind: "click", ts: 40, extra: true }, timestamp: 40 },
      { key: "u1", value: { kind: "click", userId: "u1", ts: 50 }, timestamp: 50 },
      { key: "u1", value: { userId: "u1", kind: { nested: 1 }, ts: 60 }, timestamp: 60 },
      { value: map },
      { value: "text", headers: { h: "1" }, partition: 1 },
    ];
    const { expected, actual, encoded } = await bothWays(records);
    expect(actual).toEqual(expected);
    const kinds = Array.from(encoded.values.kinds!);
    expect(kinds).toEqual([
      Kind.Object,
      Kind.Object,
      Kind.Object,
      Kind.Other, // another shape: one more property
      Kind.Other, // another order
      Kind.Other, // a nested object
      Kind.Other,
      Kind.String,
    ]);
    expect(encoded.fields).toEqual(["userId", "kind", "ts"]);
    // The user ids: a dictionary of two strings and an index per row.
    expect(encoded.columns![0]!.dictionary).toEqual(["u1", "u2"]);
    expect(encoded.columns![0]!.indexes).toBeInstanceOf(Uint8Array); // 2 strings: 8 bits each
    expect(encoded.columns![2]!.numbers).toBeInstanceOf(Float64Array); // -0 and NaN: not integers
    expect(encoded.keys!.dictionary).toEqual(["u1", "u2"]);
    expect(encoded.timestamps!.kinds).toBeInstanceOf(Uint8Array); // numbers, then none
    expect(decodeRecords(encoded).values[6]).toBeInstanceOf(Map);
  });

  it("a batch of one shape and timestamps: typed arrays, transferred (the page's buffers are emptied)", async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({
      key: `u${i % 10}`,
      value: { userId: `u${i % 10}`, kind: i % 6 ? "click" : "view", ts: i * 10 },
      timestamp: i * 10,
    }));
    const transfer: ArrayBuffer[] = [];
    const encoded = encodeRecords(records, transfer);
    expect(encoded.values.kind).toBe(Kind.Object);
    expect(encoded.timestamps!.kind).toBe(Kind.Number);
    // 32-bit integers: read back as small integers, as structured clone gives them.
    expect(encoded.columns![2]!.numbers).toBeInstanceOf(Int32Array);
    expect(encoded.timestamps!.numbers).toBeInstanceOf(Int32Array);
    expect(encoded.columns![1]!.dictionary).toEqual(["view", "click"]);
    expect(transfer.length).toBe(4); // user ids (the keys too), kinds, ts; timestamps
    expect(encoded.keys).toBe(encoded.columns![0]); // every key is its value's user id
    const arrived = await viaChannel(encoded, transfer);
    expect(transfer.every((b) => b.byteLength === 0)).toBe(true);
    expect(arrived.keys).toBe(arrived.columns![0]); // structured clone keeps the one column
    const decoded = decodeRecords(arrived);
    expect(decoded.values).toEqual(records.map((r) => r.value));
    expect(Array.from(decoded.timestamps!)).toEqual(records.map((r) => r.timestamp));
    expect(decoded.keys).toEqual(records.map((r) => r.key));
  });

  it("keys that are their value's property share its column until one is not", async () => {
    const click = (i: number) => ({ userId: `u${i % 3}`, kind: "click", ts: i });
    const batches: ProduceRecord[][] = [
      Array.from({ length: 6 }, (_, i) => ({ key: `u${i % 3}`, value: click(i) })),
      // Row 4: another key; row 5: no key; then a number key equal to a number field.
      Array.from({ length: 7 }, (_, i) => ({
        key: i === 4 ? "other" : i === 5 ? null : i === 6 ? (6 as unknown as string) : `u${i % 3}`,
        value: i === 6 ? { userId: 6, kind: "click", ts: i } : click(i),
      })),
      // Row 3's value is not of the batch's shape.
      Array.from({ length: 5 }, (_, i) => ({ key: `u${i % 3}`, value: i === 3 ? "text" : click(i) })),
      // Keys equal to a later field than the first.
      Array.from({ length: 4 }, (_, i) => ({ key: "click", value: click(i) })),
    ];
    const sharedAt: number[] = [];
    for (const records of batches) {
      const { expected, actual, encoded } = await bothWays(records);
      expect(actual).toEqual(expected);
      sharedAt.push(encoded.columns!.indexOf(encoded.keys!));
    }
    expect(sharedAt).toEqual([0, -1, -1, 1]);
  });

  it("dictionary indexes take 8, 16 or 32 bits, as the number of distinct strings needs", async () => {
    for (const [distinct, type] of [
      [256, Uint8Array],
      [257, Uint16Array],
      [65_536, Uint16Array],
      [65_537, Uint32Array],
    ] as const) {
      const records = Array.from({ length: 70_000 }, (_, i) => ({ value: `s${i % distinct}` }));
      const transfer: ArrayBuffer[] = [];
      const arrived = await viaChannel(encodeRecords(records, transfer), transfer);
      expect(arrived.values.dictionary!.length).toBe(distinct);
      expect(arrived.values.indexes).toBeInstanceOf(type);
      expect(decodeRecords(arrived).values).toEqual(records.map((r) => r.value));
    }
  });

  it("numbers: 32-bit integers as Int32Array, any other number makes the column Float64Array", async () => {
    for (const [numbers, type] of [
      [[0, 1, -1, 2 ** 31 - 1, -(2 ** 31)], Int32Array],
      [[0, 1, 2 ** 31], Float64Array],
      [[0, 1, 0.5], Float64Array],
      [[0, -0], Float64Array],
      [[1, Number.NaN], Float64Array],
      [[1, Number.POSITIVE_INFINITY], Float64Array],
      [[1_733_000_000_123, 1], Float64Array],
    ] as const) {
      const records = numbers.map((n) => ({ value: { n } }));
      const transfer: ArrayBuffer[] = [];
      const arrived = await viaChannel(encodeRecords(records, transfer), transfer);
      expect(arrived.columns![0]!.numbers).toBeInstanceOf(type);
      const back = decodeRecords(arrived).values as { n: number }[];
      expect(back.map((v) => v.n).every((n, i) => Object.is(n, numbers[i]))).toBe(true);
    }
  });

  it("an own __proto__ property stays a property (no prototype is set)", async () => {
    const odd = JSON.parse('{"__proto__": 5, "a": 1}') as Record<string, unknown>;
    const evil = JSON.parse('{"__proto__": null, "a": 2}') as Record<string, unknown>;
    const { actual, expected } = await bothWays([{ value: odd }, { value: evil }]);
    expect(actual).toEqual(expected);
    const transfer: ArrayBuffer[] = [];
    const [a, b] = decodeRecords(encodeRecords([{ value: odd }, { value: evil }], transfer)).values as Record<
      string,
      unknown
    >[];
    expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(b)).toBe(Object.prototype);
    expect(Object.keys(b!)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(b, "__proto__")!.value).toBe(null);
  });

  it("what structured clone refuses (a function) fails as it did", async () => {
    const records: ProduceRecord[] = [{ value: { a: 1 } }, { value: { a: () => 1 } }];
    const transfer: ArrayBuffer[] = [];
    await expect(viaChannel(columns(records))).rejects.toThrow(/could not be cloned/);
    await expect(viaChannel(encodeRecords(records, transfer), transfer)).rejects.toThrow(
      /could not be cloned/,
    );
  });
});
