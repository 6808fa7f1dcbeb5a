import type { Headers, StoredRecord } from "../types.js";
import { type PartitionBatch, recordAt } from "./records.js";

/**
 * Records `[base, base + n)` of a log, in columns of `capacity`: preallocated by the log, or
 * handed over by `adopt` (then full from the start: nothing is ever written into them).
 */
interface Chunk {
  readonly base: number;
  n: number;
  /** Records the columns hold; once `n` reaches it, the chunk is never written again. */
  capacity: number;
  /** Undefined while a deferred chunk's columns are not made (see `adoptDeferred`). */
  values: unknown[] | undefined;
  /** A `Float64Array` of the log's own; an adopted chunk's as it came (an `Int32Array`, an array). */
  timestamps: Float64Array | Int32Array | number[];
  /** Absent while every key is null. */
  keys: (string | null)[] | undefined;
  headers: (Headers | undefined)[] | undefined;
  /** Columns handed over by `adopt` or `adoptDeferred`. */
  readonly adopted: boolean;
  /** A deferred chunk's maker of its values, keys and headers. */
  readonly load?: () => DeferredColumns;
}

/** The columns a deferred chunk makes when it is read (see {@link MemoryLog.adoptDeferred}). */
export interface DeferredColumns {
  values: unknown[];
  /** Keys, strings or null (absent: all null). */
  keys?: (string | null)[] | undefined;
  headers?: (Headers | undefined)[] | undefined;
}

const FIRST_CHUNK = 256;
const MAX_CHUNK = 65_536;
/**
 * Batches smaller than this are copied by `adopt`: a chunk per tiny batch would cut consumers'
 * polls (a poll reads within one chunk) into tiny batches.
 */
const MIN_ADOPTED = 1_024;
/**
 * Deferred chunks whose columns a log keeps made at a time (the most recently read): a reader
 * polling through a chunk, and one more reading elsewhere, make each chunk's columns once. More
 * kept more young objects alive at every scavenge: with 4, data already in the browser worker's
 * topic was read ~10% slower (bench/browser.ts).
 */
const LOADED_CHUNKS = 2;

/**
 * One partition of an in-memory topic: columns in chunks that double in size up to 64K
 * records. Appending a record stores into preallocated arrays (timestamps unboxed, off the JS
 * heap) and allocates nothing per record; consumers are handed slices of the chunks as they
 * are. So neither side makes an object per record, which is what a topic holding millions of
 * records would otherwise cost the GC. Columns that arrive whole (a batch decoded from a worker
 * message) can become a chunk themselves (`adopt`): chunks then vary in size. A batch kept as it
 * came, encoded, is a chunk whose columns are made when it is read (`adoptDeferred`).
 */
export class MemoryLog {
  private readonly chunks: Chunk[] = [];
  /** The deferred chunks whose columns are made, oldest first (at most LOADED_CHUNKS). */
  private readonly loaded: Chunk[] = [];
  /** The end offset: the next record's offset. */
  length = 0;
  /** The first offset still held (retention drops whole chunks below it; Kafka's log start). */
  start = 0;

  /** Appends one record. */
  append(key: string | null, value: unknown, timestamp: number, headers: Headers | undefined): void {
    let c = this.chunks[this.chunks.length - 1];
    if (c === undefined || c.n === c.capacity) c = this.grow();
    const i = c.n;
    if (key !== null) (c.keys ??= new Array(c.capacity).fill(null))[i] = key;
    if (headers !== undefined) (c.headers ??= new Array(c.capacity).fill(undefined))[i] = headers;
    c.values![i] = value;
    c.timestamps[i] = timestamp;
    c.n = i + 1;
    this.length++;
  }

  /**
   * Appends records `[start, end)` of columns (a committed buffer's run): the same as `append`
   * for each, in one loop per chunk.
   */
  appendColumns(
    start: number,
    end: number,
    values: readonly unknown[],
    timestamps: ArrayLike<number>,
    keys: readonly (string | null)[] | undefined,
    headers: readonly (Headers | undefined)[] | undefined,
  ): void {
    let from = start;
    while (from < end) {
      let c = this.chunks[this.chunks.length - 1];
      if (c === undefined || c.n === c.capacity) c = this.grow();
      const k = Math.min(end - from, c.capacity - c.n);
      const vs = c.values!;
      const ts = c.timestamps;
      const at = c.n - from;
      for (let i = from; i < from + k; i++) {
        vs[i + at] = values[i];
        ts[i + at] = timestamps[i]!;
      }
      if (keys !== undefined) {
        const ks = (c.keys ??= new Array(c.capacity).fill(null));
        for (let i = from; i < from + k; i++) ks[i + at] = keys[i]!;
      }
      if (headers !== undefined) {
        const hs = (c.headers ??= new Array(c.capacity).fill(undefined));
        for (let i = from; i < from + k; i++) hs[i + at] = headers[i];
      }
      c.n += k;
      this.length += k;
      from += k;
    }
  }

  /**
   * Appends `values.length` records whose columns are handed over: they become a chunk of the
   * log as they are, not copied (a batch smaller than 1,024 records is copied). The caller gives
   * them up: nothing may change them afterwards. Timestamps must all be numbers (not NaN); keys
   * strings or null (absent: all null).
   */
  adopt(
    values: unknown[],
    timestamps: Float64Array | Int32Array | number[],
    keys: (string | null)[] | undefined,
    headers: (Headers | undefined)[] | undefined,
  ): void {
    const n = values.length;
    if (
      timestamps.length !== n ||
      (keys !== undefined && keys.length !== n) ||
      (headers !== undefined && headers.length !== n)
    )
      throw new Error("adopt: columns of different lengths");
    if (n < MIN_ADOPTED) {
      this.appendColumns(0, n, values, timestamps, keys, headers);
      return;
    }
    this.push({ base: this.length, n, capacity: n, values, timestamps, keys, headers, adopted: true });
  }

  /**
   * Appends `timestamps.length` records whose values, keys and headers `load` makes when a reader
   * first needs them: a batch kept in the form it came in (the browser worker's encoded columns),
   * as Kafka keeps a producer's record batch and its consumers decode it. The log holds the
   * compact form; it keeps the made columns of the two chunks read last and makes them again
   * when a chunk is read after that, so the values a consumer reads are young objects, dropped
   * once read, not millions of them kept for as long as the topic. `load` must make equal
   * columns every time, of `timestamps.length` rows; timestamps all numbers (not NaN), handed
   * over as `adopt`'s. Fewer than 1,024 records are made at once and copied, as `adopt` does.
   */
  adoptDeferred(timestamps: Float64Array | Int32Array | number[], load: () => DeferredColumns): void {
    const n = timestamps.length;
    if (n < MIN_ADOPTED) {
      const c = checkedLoad(load, n);
      this.appendColumns(0, n, c.values, timestamps, c.keys, c.headers);
      return;
    }
    this.push({
      base: this.length,
      n,
      capacity: n,
      values: undefined,
      timestamps,
      keys: undefined,
      headers: undefined,
      adopted: true,
      load,
    });
  }

  /** Appends an adopted chunk (full from the start), sealing the chunk before it. */
  private push(c: Chunk): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.n < last.capacity) seal(last);
    this.chunks.push(c);
    this.length += c.n;
  }

  /** Starts an empty log at `offset` (a log restored from storage that retention had cut). */
  startAt(offset: number): void {
    if (this.length !== 0) throw new Error("startAt: the log is not empty");
    this.length = this.start = offset;
  }

  /**
   * Drops the records below `offset`, a whole chunk at a time (the chunk holding `offset` stays):
   * retention. Readers below the new start read from it, as Kafka's consumers from the log start.
   */
  dropBefore(offset: number): void {
    let drop = 0;
    while (drop < this.chunks.length - 1 && this.chunks[drop + 1]!.base <= offset) drop++;
    if (drop === 0) return;
    this.chunks.splice(0, drop);
    this.start = this.chunks[0]!.base;
    const kept = this.loaded.filter((c) => c.base >= this.start);
    this.loaded.length = 0;
    this.loaded.push(...kept);
  }

  /**
   * Up to `max` records from `offset` (from the log start, when it is below it), as a batch over
   * the columns of the chunk holding it.
   */
  batch(topic: string, partition: number, offset: number, max: number): PartitionBatch {
    if (offset < this.start) offset = this.start;
    const c = offset < this.length ? this.chunks[this.find(offset)]! : undefined;
    if (c === undefined)
      return {
        topic,
        partition,
        start: 0,
        end: 0,
        values: [],
        timestamps: [],
        firstOffset: offset,
        highWatermark: this.length,
      };
    const start = offset - c.base;
    const values = c.values ?? this.make(c);
    return {
      topic,
      partition,
      start,
      end: Math.min(c.n, start + max),
      values,
      timestamps: c.timestamps,
      keys: c.keys,
      headers: c.headers,
      firstOffset: offset,
      highWatermark: this.length,
    };
  }

  /** The record at `offset` (< length), as an object. */
  record(topic: string, partition: number, offset: number): StoredRecord {
    const b = this.batch(topic, partition, offset, 1);
    return recordAt(b, b.start);
  }

  /** Makes a deferred chunk's columns (dropping those of the chunk made longest ago); its values. */
  private make(c: Chunk): unknown[] {
    const made = checkedLoad(c.load!, c.n);
    c.values = made.values;
    c.keys = made.keys;
    c.headers = made.headers;
    const loaded = this.loaded;
    loaded.push(c);
    if (loaded.length > LOADED_CHUNKS) {
      // Batches handed out before keep the arrays they were given.
      const old = loaded.shift()!;
      old.values = old.keys = old.headers = undefined;
    }
    return made.values;
  }

  private grow(): Chunk {
    const prev = this.chunks[this.chunks.length - 1];
    // After an adopted chunk, small again: appends between adopted batches are few, as a rule.
    const capacity =
      prev === undefined || prev.adopted ? FIRST_CHUNK : Math.min(MAX_CHUNK, prev.capacity * 2);
    const c: Chunk = {
      base: this.length,
      n: 0,
      capacity,
      values: new Array(capacity),
      timestamps: new Float64Array(capacity),
      keys: undefined,
      headers: undefined,
      adopted: false,
    };
    this.chunks.push(c);
    return c;
  }

  /** Index of the chunk holding `offset` (< length). */
  private find(offset: number): number {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cs[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** `load()`, checked to be `n` rows. */
function checkedLoad(load: () => DeferredColumns, n: number): DeferredColumns {
  const c = load();
  if (
    c.values.length !== n ||
    (c.keys !== undefined && c.keys.length !== n) ||
    (c.headers !== undefined && c.headers.length !== n)
  )
    throw new Error(`adoptDeferred: columns of ${c.values.length} rows made for ${n} records`);
  return c;
}

/**
 * Closes a chunk of the log's own that is not full (an adopted one follows it): no more appends
 * go there, and columns much longer than its records are given back (batches handed out before
 * keep the arrays they were given; they read no further than `n`).
 */
function seal(c: Chunk): void {
  const n = c.n;
  const waste = c.capacity > 2 * n;
  c.capacity = n;
  c.values!.length = n;
  if (c.keys !== undefined) c.keys.length = n;
  if (c.headers !== undefined) c.headers.length = n;
  // Only a log's own chunks are sealed: their timestamps are a Float64Array.
  if (waste) c.timestamps = (c.timestamps as Float64Array).slice(0, n);
}
