import type { Headers, JobMetrics, PlanDescription, RunOptions, StoredRecord } from "../../core/index.js";
import type { EncodedRecords } from "./columns.js";
import type { Retention } from "./idb-broker.js";

/**
 * Records crossing the worker boundary, in columns: one message per batch, never one per
 * record (`values` are structured-cloned with the message; the rest are small arrays).
 */
export interface RecordColumns {
  values: unknown[];
  keys?: (string | null)[];
  /** Event times (epoch ms); absent: the broker's clock. */
  timestamps?: number[];
  headers?: (Headers | undefined)[];
  partitions?: (number | undefined)[];
}

/** A batch of a topic's records, as a subscription gets it. */
export interface TopicBatch extends Required<Pick<RecordColumns, "values" | "timestamps">> {
  topic: string;
  partition: number;
  offsets: number[];
  keys: (string | null)[];
  headers: (Headers | undefined)[];
}

/** How the job in the worker runs: fixed by the worker module, overridable from the page. */
export interface WorkerJobOptions {
  /**
   * Keep topics, offsets and checkpoints in IndexedDB (default true): a reload or a terminated
   * worker resumes exactly where the last commit left it. `false`: in memory, gone with the worker.
   */
  persist?: boolean;
  /** IndexedDB database name (default `rivulet`). */
  database?: string;
  /** Source topics to create, with their partition counts (default 1 partition each). */
  topics?: Readonly<Record<string, number>>;
  /** Retention per topic (IndexedDB mode). */
  retention?: Readonly<Record<string, Retention>>;
  /** Consumer group (default: the job's). */
  group?: string;
  /** Longest piece of work between commits (ms, default 50): the page sees outputs this often. */
  sliceMs?: number;
  /** Records the job may lag behind before `produce` waits (default 100 000): back-pressure. */
  maxLag?: number;
  /** Further run options (dead-letter topic, error policy, batch size ...). */
  run?: Omit<RunOptions, "broker" | "state" | "manual" | "group">;
  /**
   * Anything structured clone carries, handed to the worker module's pipeline factory
   * (`exposeJob((params) => ...)`): e.g. which example to run, or a pipeline's source text.
   */
  params?: unknown;
}

/** A topic of the worker's broker, with where each partition starts and ends and the job's position. */
export interface TopicInfo {
  name: string;
  partitions: number;
  /** First offset still held, per partition (retention moves it). */
  startOffsets: number[];
  /** Next offset to be written, per partition. */
  endOffsets: number[];
  /** The job's consumer group: its committed offsets (absent where it has none) and lag, per partition. */
  group: { name: string; committed: (number | undefined)[]; lag: number[] };
}

/** What the worker answers (through Comlink); the page's handle wraps it. */
export interface WorkerJobApi {
  start(options: WorkerJobOptions): Promise<{ persist: boolean; restored: boolean }>;
  /** Records as plain columns, or encoded (`encodeRecords`: what the page sends). */
  produce(topic: string, records: RecordColumns | EncodedRecords): Promise<number>;
  subscribe(topic: string, from: "beginning" | "end", onBatch: (batch: TopicBatch) => void): Promise<number>;
  unsubscribe(id: number): Promise<void>;
  records(topic: string): Promise<StoredRecord[]>;
  /** Every topic, sources, outputs and topics created from the page alike. */
  topics(): Promise<TopicInfo[]>;
  /** Creates a topic (quietly, when it exists). */
  createTopic(name: string, partitions: number): Promise<void>;
  /** The job's pipeline as plain data (`describePipeline`). */
  describe(): Promise<PlanDescription>;
  metrics(): Promise<JobMetrics>;
  checkpoint(): Promise<void>;
  query(key: string | number): Promise<Record<string, unknown>>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** One poll and its commit, while paused (the playground's step mode). */
  step(): Promise<number>;
  drain(): Promise<void>;
  stop(): Promise<void>;
}
