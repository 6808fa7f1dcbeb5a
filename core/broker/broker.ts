import type { Checkpoint, StateStore } from "../state/store.js";
import type { Headers, StoredRecord, TopicPartition } from "../types.js";
import type { OutgoingRecord, OutputBuffer, PartitionBatch } from "./records.js";

/**
 * What a broker can promise. A job picks its commit protocol from these and its state store's
 * (DESIGN.md, "Execution model"): exactly-once needs an atomic commit; without one, outputs are
 * written at least once, each with a deterministic `rivulet.id` header, and the state store
 * keeps the source offsets with each checkpoint (Flink's model).
 */
export interface BrokerCapabilities {
  /**
   * Outputs and offsets commit as one unit: readers see all of it or none (Kafka transactions,
   * in-memory topics). A REST proxy has no transactions.
   */
  readonly atomicCommit: boolean;
  /** Committed offsets keep their metadata (the checkpoint id). The Strimzi bridge's do not. */
  readonly commitMetadata: boolean;
  /**
   * `group`: the broker spreads partitions over a group's members, moves them and says so
   * (`onRebalance`, from inside `poll`). `static`: a consumer reads the partitions it was given
   * (all of its topics', or `ConsumerOptions.partitions`), reported once at its first poll;
   * nothing moves, and nothing keeps two consumers of one group off the same partitions.
   */
  readonly assignment: "group" | "static";
}

/** What a broker that does not say promises: Kafka's transactional consumer groups. */
export const FULL_CAPABILITIES: BrokerCapabilities = Object.freeze({
  atomicCommit: true,
  commitMetadata: true,
  assignment: "group",
});

/**
 * The seam every runtime fills in: the in-memory broker here, KafkaJS in `rivulet/node`,
 * the REST proxy in `rivulet/edge`. Narrow on purpose: what the executor needs, nothing else.
 */
export interface Broker {
  /** What it can promise; absent: everything ({@link FULL_CAPABILITIES}). */
  readonly capabilities?: BrokerCapabilities;
  /**
   * How jobs on this broker divide their work when `run` does not say (`RunOptions.tasks`):
   * Kafka brokers, whose groups spread partitions over processes, say `per-partition`.
   * Absent: `shared`.
   */
  readonly defaultTasks?: "shared" | "per-partition";
  /** Creates a topic; resolves quietly when it already exists. */
  createTopic(name: string, options?: TopicOptions): Promise<void>;
  /** Partition count of a topic, or `undefined` when it does not exist. */
  partitions(topic: string): Promise<number | undefined>;
  /** Joins `group` as a new member subscribed to `topics`. */
  consumer(options: ConsumerOptions): Promise<Consumer>;
  /**
   * Writes records, then commits consumer offsets; with `atomicCommit`, as one unit: readers see
   * all of it or none (Kafka: one transaction of produce + sendOffsetsToTransaction). The
   * records' buffer is the caller's again once the promise settles (a job reuses it for its next
   * outputs): a broker copies what it keeps. A rejection marked `retriable` promises that trying
   * the same commit again is safe: nothing of it landed (atomic brokers), or what landed is
   * harmless to write again (records with their `rivulet.id`, offsets). A commit whose outcome
   * is unknown (the end of a transaction sent, no answer) must not be marked retriable.
   * A broker that leaves out positions of partitions another member of the group took over
   * says which ({@link CommitResult}): the checkpoint they name stays the one to restore from.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a broker that skips nothing returns nothing
  commit(tx: Transaction): Promise<void | CommitResult>;
  /** Committed offsets of a group for one topic (partitions without a commit are absent). */
  committed(group: string, topic: string): Promise<CommittedOffset[]>;
}

export interface TopicOptions {
  partitions?: number;
  /** Log compaction (`cleanup.policy=compact`), for changelogs. */
  compact?: boolean;
}

export interface ConsumerOptions {
  group: string;
  topics: readonly string[];
  /** With a `static` assignment: the partitions to read (default: every partition of `topics`). */
  partitions?: readonly TopicPartition[];
}

export interface Transaction {
  /** What a job commits is a buffer; a list of objects is accepted too (`outputOf` turns either into a buffer). */
  records: OutputBuffer | readonly OutgoingRecord[];
  offsets?: {
    group: string;
    positions: readonly CommittedOffset[];
  };
  /**
   * A checkpoint to write in the same atomic unit, when the store said it can ride in this
   * broker's commit (`StateStore.commitsWith`): a Kafka changelog topic on the same cluster,
   * IndexedDB topics and state in one database. The broker hands it to its companion store.
   */
  checkpoint?: { store: StateStore; checkpoint: Checkpoint };
}

/** What a commit left out; a broker that commits every position it is given returns nothing. */
export interface CommitResult {
  /**
   * Positions not committed: their partitions belong to another member of the group now (a
   * rebalance the job has not seen yet), which resumes them from the last commit that named them.
   */
  skipped?: readonly TopicPartition[];
}

export interface CommittedOffset extends TopicPartition {
  /** The next offset to read. */
  offset: number;
  /** Opaque metadata stored with the commit (Rivulet keeps its checkpoint id here). */
  metadata?: string;
}

export interface RebalanceEvent {
  assigned: readonly TopicPartition[];
  revoked: readonly TopicPartition[];
  /**
   * The revoked partitions were lost, not handed over: the group gave them to other members
   * already (this member's session expired), so what was done on them since the last commit
   * must be dropped, never committed (Kafka's `onPartitionsLost`).
   */
  lost?: boolean;
}

/** One member of a consumer group. Rebalances are reported from inside `poll`, as in Kafka. */
export interface Consumer {
  assignment(): readonly TopicPartition[];
  /** Up to `maxRecords` per partition, from each assigned partition's position. */
  poll(options: { maxRecords: number }): Promise<PartitionBatch[]>;
  /** Sets the next offset `poll` reads for an assigned partition. */
  seek(topic: string, partition: number, offset: number): void;
  /**
   * Whether the consumer holds its assignment and has read every assigned partition to the end
   * it last saw. `drain()` and `flush()` poll until it is true (a poll may come back empty
   * while a fetch or a group join is still under way). Absent means: an empty poll is the end.
   */
  atEnd?(): boolean;
  /**
   * Whether the consumer can hand out nothing more until the job commits what it took (its
   * client fetches no more while records are held). The job then checkpoints now rather than
   * sitting idle until `checkpointInterval` has passed.
   */
  needsCommit?(): boolean;
  /** Resolves when new records may be there, or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void>;
  /** Called inside `poll` before the new assignment takes effect. */
  onRebalance(listener: (event: RebalanceEvent) => void | Promise<void>): void;
  /**
   * The job says here whether it holds outputs not yet committed (from timers, or windows an
   * idle timeout fired, as well as from records). A consumer never lets its group move
   * partitions away while it does: it revokes them first, so the job commits them.
   */
  holdsUncommitted?(probe: () => boolean): void;
  close(): Promise<void>;
}

export type { Headers, OutgoingRecord, PartitionBatch, StoredRecord, TopicPartition };

/** Kafka's rule for topic names (legal characters, length, and not "." or ".."). */
export function topicNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "topic name must be a non-empty string";
  if (name.length > 249) return `topic name "${name.slice(0, 20)}..." is longer than 249 characters`;
  if (name === "." || name === "..") return `topic name "${name}" is not allowed`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name))
    return `topic name "${name}" may only contain ASCII letters, digits, '.', '_' and '-'`;
  return undefined;
}
