import type { Broker, Checkpoint, StateStore } from "../../core/index.js";
import {
  type CheckpointWriter,
  type IndexedDbBroker,
  type RivuletTransaction,
  settled,
  storageError,
} from "./idb-broker.js";

/**
 * Checkpoints in the {@link IndexedDbBroker}'s database: with that broker, a checkpoint is written
 * in the same IndexedDB transaction as the outputs and offsets it goes with (`commitsWith`), so
 * the page's job is exactly-once. Snapshots are stored as IndexedDB's structured clone keeps them
 * (Map, Set, Date, typed arrays, undefined, NaN as they are), copied when written.
 *
 * @example
 * const broker = await IndexedDbBroker.open({ name: "clicks" });
 * const job = await run(perMinute, { broker, state: new IndexedDbStateStore(broker) });
 */
export class IndexedDbStateStore implements StateStore, CheckpointWriter {
  /** Per section, the checkpoint written last: the next one's transaction deletes it. */
  private readonly previous = new Map<string, string>();
  /** Sections whose older checkpoints were swept since the page loaded. */
  private readonly swept = new Set<string>();

  constructor(private readonly broker: IndexedDbBroker) {}

  commitsWith(broker: Broker): boolean {
    return broker === this.broker;
  }

  /** @internal Writes a checkpoint inside the broker's transaction. */
  writeIn(tx: RivuletTransaction, checkpoint: Checkpoint): void {
    const state = tx.objectStore("state");
    const latest = tx.objectStore("latest");
    for (const [section, snap] of checkpoint.sections) {
      settled(state.put(snap, [section, checkpoint.id]));
      settled(latest.put(checkpoint.id, section));
      // The one before goes in the same transaction: a checkpoint is replaced, never lost.
      const before = this.previous.get(section);
      if (before !== undefined && before !== checkpoint.id) settled(state.delete([section, before]));
    }
    void tx.done.then(
      () => {
        for (const section of checkpoint.sections.keys()) this.previous.set(section, checkpoint.id);
      },
      () => {},
    );
  }

  /** On its own (a broker it cannot ride with): one transaction of its own. */
  async put(checkpoint: Checkpoint): Promise<void> {
    const tx = this.broker.db.transaction(["state", "latest"], "readwrite") as unknown as RivuletTransaction;
    try {
      this.writeIn(tx, checkpoint);
      await tx.done;
    } catch (e) {
      throw storageError(`cannot store checkpoint "${checkpoint.id}"`, e);
    }
  }

  async get(section: string, id: string): Promise<unknown> {
    try {
      return await this.broker.db.get("state", [section, id]);
    } catch (e) {
      throw storageError(`cannot read checkpoint "${id}" of "${section}"`, e);
    }
  }

  async latest(section: string): Promise<string | undefined> {
    try {
      return await this.broker.db.get("latest", section);
    } catch (e) {
      throw storageError(`cannot read the latest checkpoint of "${section}"`, e);
    }
  }

  /**
   * Deletes the section's other checkpoints: once per section after a load (later commits
   * replace their predecessor in their own transaction).
   */
  async retain(section: string, id: string): Promise<void> {
    if (this.swept.has(section)) return;
    this.swept.add(section);
    try {
      const tx = this.broker.db.transaction("state", "readwrite");
      const range = IDBKeyRange.bound([section, ""], [section, "\uffff"]);
      for (const key of await tx.store.getAllKeys(range)) if (key[1] !== id) void tx.store.delete(key);
      await tx.done;
    } catch (e) {
      throw storageError(`cannot drop old checkpoints of "${section}"`, e);
    }
  }
}
