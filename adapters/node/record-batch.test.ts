import { createRecordsBatch, jsCRC32C, Reader, readRecordsBatch } from "@platformatic/kafka";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordBatchBuilder } from "./record-batch.js";

type Rec = {
  key: string | null;
  value: string | null;
  ts: number;
  headers: Record<string, string> | undefined;
  id: string | undefined;
};

const producer = { producerId: 7n, producerEpoch: 3, baseSequence: 41, transactional: true };

/** What a Kafka reader sees of a batch: the fields of its header and every record. */
function decode(bytes: Buffer) {
  const b = readRecordsBatch(Reader.from(bytes));
  return {
    length: b.length,
    magic: b.magic,
    crc: b.crc,
    attributes: b.attributes,
    lastOffsetDelta: b.lastOffsetDelta,
    firstTimestamp: b.firstTimestamp,
    maxTimestamp: b.maxTimestamp,
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    firstSequence: b.firstSequence,
    records: b.records.map((r) => ({
      timestampDelta: r.timestampDelta,
      offsetDelta: r.offsetDelta,
      key: r.key?.toString() ?? null,
      value: r.value?.toString() ?? null,
      headers: r.headers.map(([k, v]) => [k?.toString(), v?.toString()]),
    })),
  };
}

function build(records: readonly Rec[]): Buffer {
  const b = new RecordBatchBuilder("t", 0, 256);
  for (const r of records) b.append(r.key, r.value, r.ts, r.headers, r.id);
  return b.seal(producer, jsCRC32C);
}

/** The same records through @platformatic/kafka's own encoder: the reference. */
function reference(records: readonly Rec[]): Buffer {
  const messages = records.map((r) => {
    const headers = new Map<Buffer, Buffer>();
    for (const k in r.headers ?? {})
      if (r.id === undefined || k !== "rivulet.id") headers.set(Buffer.from(k), Buffer.from(r.headers![k]!));
    if (r.id !== undefined) headers.set(Buffer.from("rivulet.id"), Buffer.from(r.id));
    return {
      topic: "t",
      partition: 0,
      key: r.key === null ? undefined : Buffer.from(r.key),
      value: r.value === null ? undefined : Buffer.from(r.value),
      timestamp: BigInt(r.ts),
      headers,
    };
  });
  const sequences = { getWithDefault: () => producer.baseSequence };
  return createRecordsBatch(
    messages as never,
    {
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      transactionalId: "x",
      sequences,
    } as never,
  ).buffer;
}

const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 300 }));
const rec: fc.Arbitrary<Rec> = fc.record({
  key: fc.option(text, { nil: null }),
  value: fc.option(fc.oneof(text, fc.string({ minLength: 100, maxLength: 9000 })), { nil: null }),
  // Deltas within 32 bits: @platformatic/kafka's encoder (the reference) writes larger ones wrong
  // (a delta of 2^31 + 1 is read back as -2); the test below checks those against its decoder.
  ts: fc.integer({ min: 1.7e12, max: 1.7e12 + 2 ** 30 }),
  headers: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), text, { maxKeys: 3 }), { nil: undefined }),
  id: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
});

describe("RecordBatchBuilder", () => {
  it("writes what @platformatic/kafka's encoder writes, read back by its decoder (CRC included)", () => {
    fc.assert(
      fc.property(fc.array(rec, { minLength: 1, maxLength: 40 }), (records) => {
        const ours = decode(build(records));
        const theirs = decode(reference(records));
        expect(ours).toEqual(theirs);
        expect(ours.records.length).toBe(records.length);
      }),
      { numRuns: 300 },
    );
  });

  it("puts the id in place of a header of the same name, and keeps the others", () => {
    const d = decode(
      build([{ key: "k", value: "v", ts: 5, headers: { a: "1", "rivulet.id": "old" }, id: "new" }]),
    );
    expect(d.records[0]!.headers).toEqual([
      ["a", "1"],
      ["rivulet.id", "new"],
    ]);
  });

  it("writes deltas to the first record's timestamp, negative ones too, and the batch's maximum", () => {
    const d = decode(
      build([
        { key: null, value: "a", ts: 1_000, headers: undefined, id: undefined },
        { key: null, value: "b", ts: 400, headers: undefined, id: undefined },
        { key: null, value: "c", ts: 9_000_000_000_000, headers: undefined, id: undefined },
      ]),
    );
    expect(d.firstTimestamp).toBe(1_000n);
    expect(d.maxTimestamp).toBe(9_000_000_000_000n);
    expect(d.records.map((r) => r.timestampDelta)).toEqual([0n, -600n, 8_999_999_999_000n]);
    expect(d.records.map((r) => r.offsetDelta)).toEqual([0, 1, 2]);
  });

  it("writes the producer's id, epoch and sequence at each seal, with a CRC that matches", () => {
    const b = new RecordBatchBuilder("t", 0);
    b.append("k", "v", 1, undefined, "t/0/1");
    const first = decode(Buffer.from(b.seal(producer, jsCRC32C)));
    const again = decode(
      b.seal({ producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false }, jsCRC32C),
    );
    expect([first.producerId, first.producerEpoch, first.firstSequence, first.attributes]).toEqual([
      7n,
      3,
      41,
      0x10,
    ]);
    expect([again.producerId, again.producerEpoch, again.firstSequence, again.attributes]).toEqual([
      -1n,
      -1,
      -1,
      0,
    ]);
    const bytes = b.seal(producer, jsCRC32C);
    expect(bytes.readUInt32BE(17)).toBe(jsCRC32C(bytes.subarray(21)));
  });

  it("grows its buffer past the initial size, record by record", () => {
    const records = Array.from({ length: 2_000 }, (_, i) => ({
      key: `user-${i}`,
      value: JSON.stringify({ i, name: "é".repeat(i % 50) }),
      ts: i,
      headers: undefined,
      id: `out/0/${i}`,
    }));
    const d = decode(build(records));
    expect(d.records.length).toBe(2_000);
    expect(d.records[1_999]!.value).toBe(records[1_999]!.value);
    expect(d.lastOffsetDelta).toBe(1_999);
  });
});
