import type { Broker } from "../broker/broker.js";
import { decodeSnapshot, encodeSnapshot } from "./codec.js";

/**
 * One checkpoint of a job: a snapshot per state section, under an id. Sections are the
 * partition numbers of the job's group (`<group>/<n>`), so a partition's state moves with it.
 */
export interface Checkpoint {
  /** `<group>-<seq>`: unique within the group, and larger seqs are later. */
  readonly id: string;
  readonly seq: number;
  /**
   * Snapshots by section name. Structured values (plain objects, arrays, `Map`, `Set`,
   * `undefined`, NaN, ±Infinity, -0, bigint, `Uint8Array`, `Date`) that the job's operators
   * still hold and go on changing once `put` resolves: a store encodes or copies them first
   * (`encodeSnapshot` gives a string; IndexedDB's structured clone copies as it stores).
   */
  readonly sections: ReadonlyMap<string, unknown>;
}

/**
 * Where checkpoints go. The job picks how a checkpoint, the outputs and the source offsets are
 * committed from what the store and the broker can do (DESIGN.md, "Execution model"):
 * - the store rides in the broker's commit (`commitsWith`): one atomic unit (a Kafka changelog
 *   in the commit's transaction; IndexedDB topics and state in one database transaction);
 * - the broker commits atomically with offset metadata: the checkpoint is `put` first, then
 *   the commit names it in the offsets' metadata, and a restore loads the checkpoint the
 *   committed offsets name (a crash between the two can never pair state with wrong offsets);
 * - otherwise (a REST proxy): outputs are written first (at least once), then the checkpoint
 *   is `put` holding the offsets (every snapshot has its partitions' positions), and a restore
 *   loads the `latest` checkpoint and seeks to its offsets: Flink's model.
 *
 * @example
 * const state = new MemoryStateStore(); // or FileStateStore, KafkaChangelogStore, IndexedDB ...
 * const job = await run(pipeline, { broker, state });
 */
export interface StateStore {
  /** Called once when a job starts: the group and how many sections its state has. */
  open?(info: { group: string; sections: number }): Promise<void>;
  /**
   * Stores every section of a checkpoint, all or nothing, and makes it the `latest` of each.
   * Idempotent: the same checkpoint may be put again (a retry).
   */
  put(checkpoint: Checkpoint): Promise<void>;
  /** A section's snapshot in checkpoint `id`, or undefined when the store does not have it. */
  get(section: string, id: string): Promise<unknown>;
  /**
   * The id of the newest checkpoint put that holds `section`, if any. Needed with brokers that
   * keep no offset metadata (the store then owns the offsets).
   */
  latest?(section: string): Promise<string | undefined>;
  /** Called once `id` is committed: older checkpoints of the section may go. */
  retain?(section: string, id: string): Promise<void>;
  /**
   * Called before a job reads the committed offsets of sections it takes over: resolves once
   * every commit that was in flight on them has ended, committed or aborted, so those offsets
   * are final. A member the group gave up on may still be finishing a commit when its
   * partitions move (Kafka: the changelog partitions' last stable offset reaches their end).
   */
  settle?(sections: readonly string[]): Promise<void>;
  /**
   * Whether this store's checkpoints can be written inside `broker`'s commit, so that state,
   * outputs and offsets land together (`Transaction.checkpoint`; `put` is then not called).
   */
  commitsWith?(broker: Broker): boolean;
}

/**
 * Checkpoints in memory: survives a job, not the process (the playground, tests). Snapshots are
 * kept encoded (`encodeSnapshot`), so what is stored is a copy.
 *
 * @example
 * const state = new MemoryStateStore();
 * const job = await run(pipeline, { broker, state });
 */
export class MemoryStateStore implements StateStore {
  private readonly sections = new Map<string, Map<string, string>>();
  private readonly newest = new Map<string, string>();

  async put(checkpoint: Checkpoint): Promise<void> {
    // Encoded before anything is stored: a snapshot that cannot be encoded stores nothing.
    const encoded = [...checkpoint.sections].map(([s, snap]) => [s, encodeSnapshot(snap)] as const);
    for (const [section, text] of encoded) {
      let s = this.sections.get(section);
      if (!s) this.sections.set(section, (s = new Map()));
      s.set(checkpoint.id, text);
      this.newest.set(section, checkpoint.id);
    }
  }

  async get(section: string, id: string): Promise<unknown> {
    const text = this.sections.get(section)?.get(id);
    return text === undefined ? undefined : decodeSnapshot(text);
  }

  async latest(section: string): Promise<string | undefined> {
    return this.newest.get(section);
  }

  async retain(section: string, id: string): Promise<void> {
    const s = this.sections.get(section);
    if (s) for (const k of [...s.keys()]) if (k !== id) s.delete(k);
  }

  /** Checkpoint ids held, per section (tests). */
  ids(): Record<string, string[]> {
    return Object.fromEntries([...this.sections].map(([s, m]) => [s, [...m.keys()]]));
  }

  /** Forgets everything (tests). */
  clear(): void {
    this.sections.clear();
    this.newest.clear();
  }
}
