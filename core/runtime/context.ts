import { ID_HEADER, OutputBuffer, offsetAt, type PartitionBatch, recordAt } from "../broker/records.js";
import { describe, isRivuletError, UserFunctionError } from "../errors.js";
import type { Clock } from "../time/clock.js";
import type { Headers, Key, StoredRecord } from "../types.js";
import type { Limits } from "./limits.js";

/** Pushes one record (value, event time, key) into an operator. The hot path: no allocation. */
export type Push = (value: any, timestamp: number, key: any) => void;

/**
 * The fate of the source record being processed, as bits: operators set them, the source
 * tallies the strongest one when the record is done (accounting identity: every record in is
 * counted out exactly once).
 */
export const FILTERED = 0;
export const AGGREGATED = 1;
export const EMITTED = 2;
export const LATE = 4;
export const DEAD = 8;

export type ErrorPolicy = "fail" | "dead-letter";

export interface Counters {
  in: number;
  emitted: number;
  filtered: number;
  aggregated: number;
  late: number;
  deadLettered: number;
  windowsFired: number;
}

export const newCounters = (): Counters => ({
  in: 0,
  emitted: 0,
  filtered: 0,
  aggregated: 0,
  late: 0,
  deadLettered: 0,
  windowsFired: 0,
});

/** What operators share with the executor. One per job. */
export class RuntimeContext {
  fate = 0;
  /** Records produced since the last commit (sinks, late outputs, dead letters). */
  out = new OutputBuffer();
  readonly counters: Counters = newCounters();
  readonly produced = new Map<string, { n: number }>();
  /**
   * The source record being processed, if any: index `index` of `batch` (for dead letters of
   * user-function errors; `current()` makes the record).
   */
  batch: PartitionBatch | undefined;
  index = 0;
  /**
   * Whether outputs get a deterministic id (at-least-once commit protocols): the same input
   * read again after a crash makes the same records with the same ids.
   */
  ids = false;
  /**
   * The firing (an operator's id and the watermark, or processing time, it fires at) that makes
   * the outputs now; undefined while they come from the source record being processed.
   */
  origin: string | undefined;
  /** Repartition topics: their records carry the id their first write gave them. */
  internal: ReadonlySet<string> = new Set();
  /** An id base that overrides the others for the outputs made now (an interval join's pair). */
  private pinned: string | undefined;
  private pinnedSeq = 0;
  /** Ids handed out in the current firing, per (origin, timestamp, key). */
  private readonly fired = new Map<string, number>();
  private idBatch: PartitionBatch | undefined;
  private idIndex = -1;
  private idBase = "";
  private idSeq = 0;
  /** `topic/partition/` of the batch `prefixBatch`, and whether its topic is internal (ids ride in its records). */
  private prefixBatch: PartitionBatch | undefined;
  private idPrefix = "";
  private internalBatch = false;

  constructor(
    readonly clock: Clock,
    readonly onError: ErrorPolicy,
    readonly deadLetterTopic: string,
    /** Bounds of `run(..., { limits })`; operators check the ones that apply to them. */
    readonly limits: Limits = {},
  ) {}

  /** The outputs made from here on belong to firing `origin` (undefined: to records again). */
  firing(origin: string | undefined): void {
    this.origin = origin;
    if (this.fired.size > 0) this.fired.clear();
  }

  /**
   * Gives the output just written its id: the source record's position (topic, partition,
   * offset) and the output's index among the record's outputs, or, in a firing, the firing
   * (operator and watermark), the output's timestamp and key, numbered when one firing makes
   * several. Neither depends on batch sizes or on when the job was restarted: the same input
   * order makes the same records with the same ids.
   */
  stamp(key: string | null, timestamp: number): void {
    let id: string;
    if (this.pinned !== undefined) id = `${this.pinned}.${this.pinnedSeq++}`;
    else if (this.origin !== undefined) {
      const base = `${this.origin}:${timestamp}/${key === null ? "" : JSON.stringify(key)}`;
      const n = this.fired.get(base) ?? 0;
      this.fired.set(base, n + 1);
      id = n === 0 ? base : `${base}.${n}`;
    } else {
      const b = this.batch;
      if (b !== this.idBatch || this.index !== this.idIndex) {
        this.idBatch = b;
        this.idIndex = this.index;
        this.idSeq = 0;
        this.idBase = this.recordBase();
      }
      id = `${this.idBase}.${this.idSeq++}`;
    }
    this.out.setId(this.out.length - 1, id);
  }

  /** The id base of the source record being processed (its position), or of the firing. */
  recordBase(): string {
    if (this.origin !== undefined) return this.origin;
    const b = this.batch;
    if (b === undefined) return `@${this.clock.now()}`;
    // The batch's `topic/partition/` is made once: a record's base is then one concatenation
    // (every output of an at-least-once job comes here for its id; the string is the same).
    if (b !== this.prefixBatch) {
      this.prefixBatch = b;
      this.idPrefix = `${b.topic}/${b.partition}/`;
      this.internalBatch = this.internal.has(b.topic);
    }
    return (
      (this.internalBatch ? b.headers?.[this.index]?.[ID_HEADER] : undefined) ??
      this.idPrefix + offsetAt(b, this.index)
    );
  }

  /** Outputs made from here on take `base` as their id base (undefined: back to the usual). */
  pin(base: string | undefined): void {
    this.pinned = base;
    this.pinnedSeq = 0;
  }

  counter(topic: string): { n: number } {
    let c = this.produced.get(topic);
    if (!c) {
      c = { n: 0 };
      this.produced.set(topic, c);
    }
    return c;
  }

  /** The source record being processed, if any. */
  current(): StoredRecord | undefined {
    return this.batch === undefined ? undefined : recordAt(this.batch, this.index);
  }

  /** Dead-letters a source record with the reason and its position. */
  deadLetter(record: StoredRecord, stage: string, reason: string, step?: string, detail?: string): void {
    this.fate |= DEAD;
    const headers: Headers = {
      ...record.headers,
      "rivulet.error.stage": stage,
      "rivulet.error.reason": reason,
      "rivulet.source.topic": record.topic,
      "rivulet.source.partition": String(record.partition),
      "rivulet.source.offset": String(record.offset),
    };
    if (step) headers["rivulet.error.step"] = step;
    if (detail) headers["rivulet.error.detail"] = detail;
    this.write(this.deadLetterTopic, record.key, record.value, record.timestamp, headers);
  }

  /**
   * A user function threw. With the `fail` policy the job stops; with `dead-letter` the record
   * that caused it (or, outside a record, a description of the firing) goes to the dead-letter topic.
   */
  userError(e: unknown, context?: { key: Key; timestamp: number; what: string }): void {
    const err = isRivuletError(e) ? e : new UserFunctionError("a user function", e);
    // A limit reached is bad input, whatever the policy: the record goes, with the limit's reason.
    const limit = err.code === "LIMIT";
    if (!limit && (this.onError === "fail" || err.code !== "USER_FUNCTION")) throw err;
    const step = limit ? undefined : (err as UserFunctionError).step;
    const reason = limit ? err.message : describe((err as UserFunctionError).cause ?? err);
    const current = context ? undefined : this.current();
    if (current) {
      this.deadLetter(current, limit ? "limit" : "process", reason, step);
      return;
    }
    const headers: Headers = {
      "rivulet.error.stage": limit ? "limit" : "fire",
      "rivulet.error.reason": reason,
    };
    if (step) headers["rivulet.error.step"] = step;
    this.write(
      this.deadLetterTopic,
      context ? keyString(context.key) : null,
      context ? { key: context.key, timestamp: context.timestamp, what: context.what } : null,
      context?.timestamp ?? this.clock.now(),
      headers,
    );
  }

  write(topic: string, key: string | null, value: unknown, timestamp: number, headers?: Headers): void {
    this.counter(topic).n++;
    this.out.push(topic, key, value, timestamp, headers);
    if (this.ids) this.stamp(key, timestamp);
  }
}

/** The record key a keyed value gets on a topic. */
export function keyString(key: unknown): string | null {
  if (key === undefined || key === null) return null;
  return typeof key === "string" ? key : String(key);
}

/** Total order on keys for deterministic firing: numbers before strings, then natural order. */
export function compareKeys(a: Key, b: Key): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  return typeof a === "number" ? -1 : 1;
}
