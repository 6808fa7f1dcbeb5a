/**
 * Kafka record batches (message format v2) written by the adapter itself, straight from a
 * commit's columns: one growing buffer per topic-partition, each record's key, JSON value and
 * headers written into it as UTF-8 in place, no object or `Buffer` per record. The producer's
 * id, epoch and first sequence are known only when the request is made (and again on a retry),
 * so {@link RecordBatchBuilder.seal} writes them, and the CRC-32C, into the batch's header then.
 *
 * Why: @platformatic/kafka's record encoding costs a `Map` copy of every record's headers, a
 * `Buffer` per varint and copies of each record (bench/README.md, "Output ids, second round");
 * an at-least-once job writes a `rivulet.id` header on every output, so that was most of the
 * client's write path.
 *
 * @example
 * const b = new RecordBatchBuilder("out", 0);
 * b.append("k", '{"n":1}', Date.now(), undefined, "out/0/1");
 * const bytes = b.seal({ producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false }, crc32c);
 *
 * @module
 */
import { ID_HEADER } from "../../core/index.js";

/** Bytes before the first record: baseOffset .. recordCount. */
const HEADER = 61;
/** Where the CRC starts covering: attributes. */
const CRC_FROM = 21;
const TRANSACTIONAL = 0x10;
const ID_NAME = new TextEncoder().encode(ID_HEADER);

/** What the producer knows when it sends a batch: written into the header at each try. */
export interface BatchProducer {
  producerId: bigint;
  producerEpoch: number;
  /** -1 for a producer without sequences (neither idempotent nor transactional). */
  baseSequence: number;
  transactional: boolean;
}

/** The records of one topic-partition for one produce request, encoded as they come. */
export class RecordBatchBuilder {
  count = 0;
  private buf: Buffer;
  private pos = HEADER;
  private firstTs = 0;
  private maxTs = 0;
  /** The sequence this batch was given, for the producer id and epoch it was given under. */
  sequence: { producerId: bigint; producerEpoch: number; base: number } | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    initialBytes = 16 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 256));
  }

  /** Bytes written so far, the header included. */
  get bytes(): number {
    return this.pos;
  }

  /**
   * One record. `value` null is a tombstone; a string is written as UTF-8; `timestamp` NaN means
   * now (the client's clock, as Kafka clients do for a record without one). `id`, when given,
   * is written as the `rivulet.id` header (in place of a header of that name in `headers`).
   */
  append(
    key: string | null,
    value: string | Uint8Array | null,
    timestamp: number,
    headers: Record<string, string> | undefined,
    id: string | undefined,
  ): void {
    const ts = Number.isNaN(timestamp) ? Date.now() : Math.trunc(timestamp);
    if (this.count === 0) this.firstTs = this.maxTs = ts;
    else if (ts > this.maxTs) this.maxTs = ts;
    // Upper bound of the record: strings at 3 bytes a UTF-16 unit, every varint at 10.
    let bound = 64 + (key === null ? 0 : key.length * 3) + (value === null ? 0 : value.length * 3);
    if (id !== undefined) bound += 20 + ID_NAME.length + id.length * 3;
    if (headers !== undefined)
      for (const k in headers) bound += 20 + (k.length + text(headers[k]).length) * 3;
    this.reserve(bound);
    // The record's length comes first; 2 bytes are kept for it (records of 64 B to 8 KiB), the
    // body moved when it needs 1 or 3.
    const start = this.pos;
    this.pos = start + 2;
    this.buf[this.pos++] = 0; // attributes
    this.varlong(ts - this.firstTs);
    this.varint(this.count);
    if (key === null) this.varint(-1);
    else this.string(key);
    if (value === null) this.varint(-1);
    else if (typeof value === "string") this.string(value);
    else this.bytesOf(value);
    let n = id === undefined ? 0 : 1;
    if (headers !== undefined) for (const k in headers) if (id === undefined || k !== ID_HEADER) n++;
    this.varint(n);
    if (headers !== undefined)
      for (const k in headers) {
        if (id !== undefined && k === ID_HEADER) continue;
        this.string(k);
        this.string(text(headers[k]));
      }
    if (id !== undefined) {
      this.bytesOf(ID_NAME);
      this.string(id);
    }
    const body = this.pos - start - 2;
    const need = varintSize(body);
    if (need !== 2) {
      this.buf.copyWithin(start + need, start + 2, this.pos);
      this.pos += need - 2;
    }
    writeVarint(this.buf, start, body);
    this.count++;
  }

  /**
   * The batch, its header written for `producer`: the same bytes object on every call, so a
   * request made again (a retry) sends what the broker may already have (and deduplicates).
   */
  seal(producer: BatchProducer, crc32c: (data: Uint8Array) => number): Buffer {
    const b = this.buf;
    const attributes = producer.transactional ? TRANSACTIONAL : 0;
    b.writeBigInt64BE(0n, 0); // baseOffset: the broker assigns it
    b.writeInt32BE(this.pos - 12, 8); // batchLength: from partitionLeaderEpoch to the end
    b.writeInt32BE(-1, 12); // partitionLeaderEpoch
    b[16] = 2; // magic
    b.writeInt16BE(attributes, 21);
    b.writeInt32BE(this.count - 1, 23); // lastOffsetDelta
    b.writeBigInt64BE(BigInt(this.firstTs), 27);
    b.writeBigInt64BE(BigInt(this.maxTs), 35);
    b.writeBigInt64BE(producer.producerId, 43);
    b.writeInt16BE(producer.producerEpoch, 51);
    b.writeInt32BE(producer.baseSequence, 53);
    b.writeInt32BE(this.count, 57);
    const bytes = b.subarray(0, this.pos);
    b.writeUInt32BE(crc32c(bytes.subarray(CRC_FROM)), 17);
    return bytes;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A string as a varint length and its UTF-8 bytes: ASCII written here, the rest by `Buffer.write`. */
  private string(s: string): void {
    const len = s.length;
    const b = this.buf;
    const lenAt = this.pos;
    const lenSize = varintSize(len);
    let p = lenAt + lenSize;
    let i = 0;
    if (len <= 64) {
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        writeVarint(b, lenAt, len);
        this.pos = p;
        return;
      }
    }
    // Longer or not ASCII: the bytes may be more than the units, so the length is known after.
    const bytes = Buffer.byteLength(s, "utf8");
    const size = varintSize(bytes);
    writeVarint(b, lenAt, bytes);
    b.write(s, lenAt + size, bytes, "utf8");
    this.pos = lenAt + size + bytes;
  }

  private bytesOf(v: Uint8Array): void {
    this.varint(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  private varint(n: number): void {
    this.pos = writeVarint(this.buf, this.pos, n);
  }

  /** A signed 64-bit varint (zigzag) for a number of any safe integer size. */
  private varlong(n: number): void {
    if (n >= -0x40000000 && n < 0x40000000) {
      this.varint(n);
      return;
    }
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    const b = this.buf;
    let p = this.pos;
    while (z >= 0x80) {
      b[p++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    b[p++] = z;
    this.pos = p;
  }
}

/** A header's value as text: headers are strings, but a value from plain JavaScript may not be. */
function text(v: unknown): string {
  return typeof v === "string" ? v : String(v);
}

/** Bytes of a signed 32-bit varint (zigzag) of `n`. */
function varintSize(n: number): number {
  let z = ((n << 1) ^ (n >> 31)) >>> 0;
  let size = 1;
  while (z >= 0x80) {
    z >>>= 7;
    size++;
  }
  return size;
}

/** Writes a signed 32-bit varint (zigzag) at `p`; returns the position after it. */
function writeVarint(b: Uint8Array, p: number, n: number): number {
  let z = ((n << 1) ^ (n >> 31)) >>> 0;
  while (z >= 0x80) {
    b[p++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  b[p++] = z;
  return p;
}
