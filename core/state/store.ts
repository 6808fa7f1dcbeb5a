/**
 * Where checkpoints go. A checkpoint is written under a fresh id before the broker commit that
 * names it (in the committed offsets' metadata); restore loads the id the committed offsets name,
 * so a crash between the two can never pair state with the wrong offsets.
 */
export interface StateStore {
  put(id: string, snapshot: string): Promise<void>;
  get(id: string): Promise<string | undefined>;
  /** Removes every checkpoint except those in `keep`. */
  retain(keep: readonly string[]): Promise<void>;
}

/**
 * Checkpoints in memory: survives a job, not the process (the playground, tests).
 *
 * @example
 * const state = new MemoryStateStore();
 * const job = await run(pipeline, { broker, state });
 */
export class MemoryStateStore implements StateStore {
  private readonly snapshots = new Map<string, string>();

  async put(id: string, snapshot: string): Promise<void> {
    this.snapshots.set(id, snapshot);
  }

  async get(id: string): Promise<string | undefined> {
    return this.snapshots.get(id);
  }

  async retain(keep: readonly string[]): Promise<void> {
    for (const id of [...this.snapshots.keys()]) if (!keep.includes(id)) this.snapshots.delete(id);
  }

  /** Ids currently held (tests). */
  ids(): string[] {
    return [...this.snapshots.keys()];
  }
}
