import type { Headers, ProduceRecord, StoredRecord, TopicPartition } from "../types.js";

/**
 * Records of one topic-partition as a consumer hands them out, in columns: no object per record,
 * so a broker that keeps its log in columns (the in-memory one) hands out slices of it without
 * copying, and the executor reads a value and a timestamp per record, nothing else.
 * The batch is the records at indexes `[start, end)` of every column.
 */
export interface PartitionBatch extends TopicPartition {
  readonly start: number;
  readonly end: number;
  readonly values: readonly unknown[];
  readonly timestamps: ArrayLike<number>;
  /** Keys by index; absent when every key is null. */
  readonly keys?: readonly (string | null)[] | undefined;
  /** Headers by index; absent when no record of the batch has any. */
  readonly headers?: readonly (Headers | undefined)[] | undefined;
  /** Offsets by index; absent when they run on from `firstOffset` (the offset at `start`). */
  readonly offsets?: readonly number[] | undefined;
  readonly firstOffset: number;
  /** Offset after the last record in the partition when polled (for lag). */
  readonly highWatermark: number;
}

/** The headers of every record that has none (shared; stored records are not to be modified). */
const NO_HEADERS: Readonly<Headers> = Object.freeze({});

/**
 * The header of an output's deterministic id, with at-least-once commit protocols: a record
 * written again after a crash carries the same id, so readers can drop repeats.
 */
export const ID_HEADER = "rivulet.id";

/** The offset of the record at index `i` of a batch. */
export function offsetAt(b: PartitionBatch, i: number): number {
  return b.offsets === undefined ? b.firstOffset + (i - b.start) : b.offsets[i]!;
}

/** The record at index `i` of a batch, as an object (for dead letters, errors and tests: not the hot path). */
export function recordAt<V = unknown>(b: PartitionBatch, i: number): StoredRecord<V> {
  return {
    topic: b.topic,
    partition: b.partition,
    offset: offsetAt(b, i),
    key: b.keys?.[i] ?? null,
    value: b.values[i] as V,
    timestamp: b.timestamps[i]!,
    headers: b.headers?.[i] ?? NO_HEADERS,
  };
}

/** Every record of a batch, as objects. */
export function batchRecords<V = unknown>(b: PartitionBatch): StoredRecord<V>[] {
  const out: StoredRecord<V>[] = [];
  for (let i = b.start; i < b.end; i++) out.push(recordAt<V>(b, i));
  return out;
}

/** A batch over records held as objects (of one topic-partition, in offset order). */
export function batchOf(
  tp: TopicPartition,
  records: readonly StoredRecord[],
  highWatermark: number,
): PartitionBatch {
  const n = records.length;
  const values: unknown[] = new Array(n);
  const timestamps: number[] = new Array(n);
  let keys: (string | null)[] | undefined;
  const offsets: number[] = new Array(n);
  let headers: (Headers | undefined)[] | undefined;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    values[i] = r.value;
    timestamps[i] = r.timestamp;
    if (r.key !== null) (keys ??= new Array(n).fill(null))[i] = r.key;
    offsets[i] = r.offset;
    const h = r.headers;
    if (h !== undefined && h !== NO_HEADERS && Object.keys(h).length > 0) (headers ??= new Array(n))[i] = h;
  }
  return columnBatch(tp, { values, timestamps, keys, headers, offsets }, highWatermark);
}

/** A batch of whole columns (every record's offset given). */
export function columnBatch(
  tp: TopicPartition,
  columns: {
    values: readonly unknown[];
    timestamps: ArrayLike<number>;
    keys: readonly (string | null)[] | undefined;
    headers: readonly (Headers | undefined)[] | undefined;
    offsets: readonly number[];
  },
  highWatermark: number,
): PartitionBatch & { readonly offsets: readonly number[] } {
  const { offsets } = columns;
  return {
    topic: tp.topic,
    partition: tp.partition,
    start: 0,
    end: offsets.length,
    ...columns,
    firstOffset: offsets[0] ?? 0,
    highWatermark,
  };
}

/** A record to write: a produced record and its topic. */
export interface OutgoingRecord extends ProduceRecord {
  topic: string;
}

/**
 * Records to write, in columns: what a job's operators produce between commits and a
 * transaction carries. An output costs a store or two into arrays the buffer keeps from one
 * commit to the next (a job reuses its buffers), not an object: an object per output that
 * lives on in a topic is what a young-generation GC pays for most. Records of one topic come in
 * runs, so the topic is kept once per run.
 */
export class OutputBuffer {
  /** Number of records. */
  length = 0;
  /** Values by index (`[0, length)`; the array may be longer). */
  readonly values: unknown[] = [];
  /** Event times by index; NaN (only from `add`): the broker's clock. */
  readonly timestamps: number[] = [];
  /** Whether some record has no timestamp (NaN). */
  unstamped = false;
  /** Explicit partitions by index, from the first record that has one. */
  partitions: (number | undefined)[] | undefined;
  /** Headers by index, from the first record that has any. */
  headers: (Headers | undefined)[] | undefined;
  /** Deterministic ids by index (header {@link ID_HEADER}), from the first record that has one. */
  ids: (string | undefined)[] | undefined;
  /** Number of runs, and each run's topic and first index. */
  runs = 0;
  private readonly runTopics: string[] = [];
  private readonly runStarts: number[] = [];
  private keyColumn: (string | null)[] = [];
  private keyed = false;
  private last: string | undefined;

  /** Keys by index; undefined while every key is null. */
  get keys(): readonly (string | null)[] | undefined {
    return this.keyed ? this.keyColumn : undefined;
  }

  /** Appends a record. */
  push(topic: string, key: string | null, value: unknown, timestamp: number, headers?: Headers): void {
    const n = this.length;
    if (topic !== this.last) {
      this.runTopics[this.runs] = topic;
      this.runStarts[this.runs++] = n;
      this.last = topic;
    }
    if (key !== null) {
      if (!this.keyed) {
        this.keyed = true;
        for (let i = 0; i < n; i++) this.keyColumn[i] = null;
      }
      this.keyColumn[n] = key;
    } else if (this.keyed) this.keyColumn[n] = null;
    if (headers !== undefined) (this.headers ??= new Array(n).fill(undefined)).push(headers);
    else if (this.headers !== undefined) this.headers.push(undefined);
    if (this.partitions !== undefined) this.partitions.push(undefined);
    if (this.ids !== undefined) this.ids.push(undefined);
    this.values[n] = value;
    this.timestamps[n] = timestamp;
    this.length = n + 1;
  }

  /** Appends a record given as an object. */
  add(r: OutgoingRecord): void {
    const k = r.key;
    const ts = r.timestamp ?? Number.NaN;
    if (Number.isNaN(ts)) this.unstamped = true;
    this.push(
      r.topic,
      typeof k === "string" ? k : k === undefined || k === null ? null : String(k),
      r.value,
      ts,
      r.headers,
    );
    if (r.partition !== undefined)
      (this.partitions ??= new Array(this.length).fill(undefined))[this.length - 1] = r.partition;
  }

  /** Empties the buffer for reuse; its arrays keep their size (the values past `length` are stale). */
  clear(): void {
    this.length = 0;
    this.runs = 0;
    this.last = undefined;
    this.keyed = false;
    this.unstamped = false;
    this.headers = undefined;
    this.partitions = undefined;
    this.ids = undefined;
  }

  /** Gives record `i` its deterministic id. */
  setId(i: number, id: string): void {
    (this.ids ??= new Array(this.length).fill(undefined))[i] = id;
  }

  /** The headers of record `i` as written: its own, plus its id, if it has one. */
  headersAt(i: number): Headers | undefined {
    const h = this.headers?.[i];
    const id = this.ids?.[i];
    if (id === undefined) return h;
    // A literal, not a spread of nothing: every output of an at-least-once job comes here.
    return h === undefined ? { "rivulet.id": id } : { ...h, [ID_HEADER]: id };
  }

  runTopic(r: number): string {
    return this.runTopics[r]!;
  }

  runStart(r: number): number {
    return this.runStarts[r]!;
  }

  /** Index after the last record of run `r`. */
  runEnd(r: number): number {
    return r + 1 < this.runs ? this.runStarts[r + 1]! : this.length;
  }

  /** The record at index `i`, as an object (of run `run`, when known). */
  record(i: number, run?: number): OutgoingRecord {
    let r = run ?? this.runs - 1;
    if (run === undefined) while (this.runStarts[r]! > i) r--;
    const out: OutgoingRecord = {
      topic: this.runTopics[r]!,
      key: this.keys?.[i] ?? null,
      value: this.values[i],
    };
    const ts = this.timestamps[i]!;
    if (!Number.isNaN(ts)) out.timestamp = ts;
    const h = this.headersAt(i);
    if (h !== undefined) out.headers = h;
    const p = this.partitions?.[i];
    if (p !== undefined) out.partition = p;
    return out;
  }

  /** Every record, as objects, in order (brokers that send objects; tests). */
  toArray(): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    for (let r = 0; r < this.runs; r++)
      for (let i = this.runStarts[r]!, end = this.runEnd(r); i < end; i++) out.push(this.record(i, r));
    return out;
  }

  /** Whether any record goes to one of `topics`. */
  writesTo(topics: ReadonlySet<string>): boolean {
    for (let r = 0; r < this.runs; r++) if (topics.has(this.runTopics[r]!)) return true;
    return false;
  }
}

/** The records of a transaction as a buffer (a list of objects is copied into one). */
export function outputOf(records: OutputBuffer | readonly OutgoingRecord[]): OutputBuffer {
  if (records instanceof OutputBuffer) return records;
  const b = new OutputBuffer();
  for (const r of records) b.add(r);
  return b;
}
