// What a conformance case is: a pipeline built with the public API alone, the topics it reads
// with their partition counts, a fixed input, and the topics whose contents every runtime must
// reproduce. Bundleable for workers and browsers: imports "rivulet" only, no node:*, no test
// framework.
import { type Headers, type JobMetrics, type Pipeline, partitionForKey, type TaskMode } from "rivulet";

/**
 * Where a case runs: its topic names and its time. A row renames topics (a prefix per run, so
 * runs on one broker never meet) and may move the input in time (a broker with time-based
 * retention deletes old records); the result is the same up to the renaming and the shift.
 */
export interface CaseEnv {
  /** The physical name of one of the case's (logical) topic names. */
  topic(name: string): string;
  /** Event time 0 of the case, in epoch ms: a multiple of an hour, so windows line up alike. */
  base: number;
}

/** 2026-01-01T00:00:00Z: event time 0 of the cases when a row does not move them. */
export const DEFAULT_BASE = Date.UTC(2026, 0, 1);

/** Topics as the case names them, at {@link DEFAULT_BASE}. */
export const DEFAULT_ENV: CaseEnv = Object.freeze({ topic: (name: string) => name, base: DEFAULT_BASE });

/**
 * Topics named `<prefix><name>`, at `base` (rounded down to an hour).
 *
 * @example
 * const env = prefixedEnv(`conf-${Date.now()}-`, Date.now() - 86_400_000);
 */
export function prefixedEnv(prefix: string, base = DEFAULT_BASE): CaseEnv {
  return { topic: (name) => `${prefix}${name}`, base: Math.floor(base / 3_600_000) * 3_600_000 };
}

/** One input record, in a case's logical terms: which topic, partition, key, value, when. */
export interface InputRecord {
  /** Logical topic name (the row maps it with {@link CaseEnv.topic}). */
  topic: string;
  partition: number;
  key: string | null;
  /** What a producer hands the broker: JSON-able values, or a string for malformed JSON. */
  value: unknown;
  /** The broker record's timestamp (pipelines read event time from the value). */
  timestamp: number;
  headers?: Headers;
}

/** The job's accounting, as `job.metrics().records` reports it. */
export type Counts = JobMetrics["records"];

export interface ConformanceCase {
  /** Unique, kebab-case: rows and workers pick a case by it. */
  readonly name: string;
  /** What it exercises, for humans. */
  readonly about: string;
  /** Source topics (logical names) and their partition counts. */
  readonly sources: Readonly<Record<string, number>>;
  /** Topics a row compares (logical names): sinks, late outputs, the dead-letter topic. */
  readonly outputs: readonly string[];
  /** Logical name of the job's dead-letter topic (also one of `outputs`). */
  readonly deadLetterTopic: string;
  /**
   * Task modes under which the result depends on each partition's order alone, whatever the
   * batch sizes and the interleaving of partitions. Rows run the first; the memory row runs all.
   */
  readonly tasks: readonly [TaskMode, ...TaskMode[]];
  /** What the input plants, which the oracle must show: late and dead-lettered records. */
  readonly planted: Readonly<Pick<Counts, "late" | "deadLettered">>;
  pipeline(env: CaseEnv): Pipeline;
  /** The input, in production order (each partition's records in this order). */
  input(env: CaseEnv): InputRecord[];
}

/**
 * Builds input records of one topic: `at(seconds, key, value)` puts a record on the partition
 * Kafka's partitioner gives its key (`partition` to put it elsewhere), with the broker
 * timestamp at its event time (`base` for records without one).
 */
export function recorder(env: CaseEnv, topic: string, partitions: number, out: InputRecord[]) {
  const ms = (seconds: number) => env.base + Math.round(seconds * 1000);
  return {
    ms,
    add(
      key: string | null,
      value: unknown,
      opts: { partition?: number; timestamp?: number; headers?: Headers } = {},
    ): void {
      const partition = opts.partition ?? (key === null ? 0 : partitionForKey(key, partitions));
      const r: InputRecord = { topic, partition, key, value, timestamp: opts.timestamp ?? env.base };
      if (opts.headers) r.headers = opts.headers;
      out.push(r);
    },
  };
}

/** Fails at once when a case's keys do not sit on the partitions its comments say. */
export function onPartition(key: string, partitions: number, expected: number): string {
  const p = partitionForKey(key, partitions);
  if (p !== expected)
    throw new Error(
      `conformance case input: key ${JSON.stringify(key)} is on partition ${p}, not ${expected}`,
    );
  return key;
}
