// What every row does around a case, whatever its runtime: load the input into a broker, the
// run options the case needs, and the outputs read back in the case's logical terms.
// Bundleable for workers and browsers: imports "rivulet" only.
import type { Broker, Headers, OutgoingRecord, RunOptions, TaskMode } from "rivulet";
import type { CaseEnv, ConformanceCase, Counts } from "./case.js";

/** One output record as a row read it: values decoded (see {@link decodeJsonText}), in logical terms. */
export interface OutputRecord {
  partition: number;
  /** Position in the partition: records are compared in partition, then offset order. */
  offset: number;
  key: string | null;
  value: unknown;
  timestamp: number;
  headers: Headers;
}

/** What a row got from running a case: the records of each output topic, and the job's counts. */
export interface CaseRun {
  /** Per logical output topic, its records in partition then offset order. */
  topics: Record<string, OutputRecord[]>;
  /**
   * `job.metrics().records` of the one job that ran the whole input. Absent when the run took
   * several jobs (a crash and a restart): a job counts only what it processed itself.
   */
  counts?: Counts;
}

/** The header naming a dead letter's source topic: compared under the topic's logical name. */
const SOURCE_TOPIC = "rivulet.source.topic";

/** The case's input as records for `env`'s topics. */
export function inputRecords(c: ConformanceCase, env: CaseEnv): OutgoingRecord[] {
  return c.input(env).map((r) => {
    const o: OutgoingRecord = {
      topic: env.topic(r.topic),
      partition: r.partition,
      key: r.key,
      value: r.value,
      timestamp: r.timestamp,
    };
    if (r.headers) o.headers = r.headers;
    return o;
  });
}

/**
 * Creates the case's source topics on `broker` and writes its input in one commit (one Kafka
 * transaction: offsets from 0 without gaps, as the dead letters' `rivulet.source.offset` headers
 * expect). Returns the number of records written: what the job must read.
 */
export async function loadInput(broker: Broker, c: ConformanceCase, env: CaseEnv): Promise<number> {
  for (const [topic, partitions] of Object.entries(c.sources))
    await broker.createTopic(env.topic(topic), { partitions });
  const records = inputRecords(c, env);
  await broker.commit({ records });
  return records.length;
}

/** The run options a case needs (its dead-letter topic, its task mode), for `env`'s topics. */
export function caseRunOptions(
  c: ConformanceCase,
  env: CaseEnv,
  tasks: TaskMode = c.tasks[0],
): Required<Pick<RunOptions, "deadLetterTopic" | "tasks">> {
  return { deadLetterTopic: env.topic(c.deadLetterTopic), tasks };
}

/**
 * A row's outputs in the case's logical terms: per output topic (read with `read`, given the
 * physical name), records sorted by partition and offset, a dead letter's source topic header
 * renamed back.
 */
export async function collectRun(
  c: ConformanceCase,
  env: CaseEnv,
  read: (topic: string) => Promise<readonly OutputRecord[]>,
  counts?: Counts,
): Promise<CaseRun> {
  const logical = new Map(Object.keys(c.sources).map((t) => [env.topic(t), t]));
  const topics: Record<string, OutputRecord[]> = {};
  for (const t of c.outputs) {
    const records = [...(await read(env.topic(t)))].sort(
      (a, b) => a.partition - b.partition || a.offset - b.offset,
    );
    topics[t] = records.map(({ partition, offset, key, value, timestamp, headers }) => {
      const source = headers[SOURCE_TOPIC];
      if (source !== undefined) headers = { ...headers, [SOURCE_TOPIC]: logical.get(source) ?? source };
      return { partition, offset, key, value, timestamp, headers };
    });
  }
  return counts ? { topics, counts } : { topics };
}

/**
 * A value as a broker that holds bytes gives it back as text (Kafka, a REST proxy): JSON is
 * parsed; text that is not JSON (a malformed input kept by the dead-letter topic) stays text;
 * `null` (a tombstone) stays `null`. Cases never write strings that read as JSON.
 */
export function decodeJsonText(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
