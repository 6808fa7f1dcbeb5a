import type { OutgoingRecord } from "../broker/records.js";

/**
 * Where checkpoints go, one snapshot per state section (a partition number of the job's group).
 * A checkpoint is written under a fresh id before, or inside, the broker commit that names it in
 * the committed offsets' metadata; restore loads the id the committed offsets name, so a crash
 * between the two can never pair state with the wrong offsets.
 */
export interface StateStore {
  /** Called once when a job starts: the group and how many sections its state has. */
  open?(info: { group: string; sections: number }): Promise<void>;
  /** Stores a section's snapshot under a checkpoint id (before the commit naming it). */
  put(section: string, id: string, snapshot: string): Promise<void>;
  get(section: string, id: string): Promise<string | undefined>;
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
   * Instead of `put`: records to write inside the commit's transaction (a Kafka changelog
   * topic), so state, outputs and offsets become visible together.
   */
  stage?(section: string, id: string, snapshot: string): OutgoingRecord[];
}

/**
 * Checkpoints in memory: survives a job, not the process (the playground, tests).
 *
 * @example
 * const state = new MemoryStateStore();
 * const job = await run(pipeline, { broker, state });
 */
export class MemoryStateStore implements StateStore {
  private readonly sections = new Map<string, Map<string, string>>();

  async put(section: string, id: string, snapshot: string): Promise<void> {
    let s = this.sections.get(section);
    if (!s) this.sections.set(section, (s = new Map()));
    s.set(id, snapshot);
  }

  async get(section: string, id: string): Promise<string | undefined> {
    return this.sections.get(section)?.get(id);
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
  }
}
