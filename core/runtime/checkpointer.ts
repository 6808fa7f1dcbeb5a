import {
  type Broker,
  type BrokerCapabilities,
  type CommitResult,
  type CommittedOffset,
  FULL_CAPABILITIES,
} from "../broker/broker.js";
import type { OutputBuffer } from "../broker/records.js";
import { RivuletError } from "../errors.js";
import type { Checkpoint, StateStore } from "../state/store.js";
import type { TopicPartition } from "../types.js";
import type { RestorePolicy, SectionSnapshot } from "./executor.js";
import { type RetryOptions, retrying } from "./retry.js";
import type { Tasks } from "./tasks.js";

/**
 * How a job commits (DESIGN.md, "Execution model"), chosen from what its broker and state store
 * can do:
 * - `in-commit`: the store rides in the broker's atomic commit (a Kafka changelog in the
 *   transaction; IndexedDB topics and state in one database transaction). Exactly-once.
 * - `named`: the checkpoint is put first, then outputs and offsets commit, the offsets' metadata
 *   naming it; a restore loads the checkpoint the committed offsets name. Exactly-once on an
 *   atomic broker, at-least-once otherwise.
 * - `store-owned` (no offset metadata, e.g. a REST proxy): outputs are written as they come (at
 *   least once, each with a deterministic id), then the checkpoint is put with the offsets it
 *   covers, then the offsets are committed to the broker (for lag; never ahead of the store); a
 *   restore loads the store's latest checkpoint and seeks to its offsets (Flink's model).
 * - `offsets` (no state store): outputs and offsets commit together after every batch.
 */
export type CommitProtocol = "in-commit" | "named" | "store-owned" | "offsets";

export type Guarantee = "exactly-once" | "at-least-once";

export interface CheckpointStats {
  count: number;
  lastId: string | undefined;
  lastAt: number | undefined;
  lastDurationMs: number | undefined;
}

/**
 * A job's checkpoints: taking them (snapshot + offsets -> store -> broker commit) and loading
 * them back for the sections a job takes over, by the protocol its broker and store allow
 * together. Every call to the broker or the store is retried while it fails transiently.
 */
export class Checkpointer {
  readonly protocol: CommitProtocol;
  readonly guarantee: Guarantee;
  /** Whether outputs need a deterministic id (the protocol may write them again). */
  readonly ids: boolean;
  /** Whether outputs are written between checkpoints (as they come), not only with them. */
  readonly eager: boolean;
  readonly stats: CheckpointStats = {
    count: 0,
    lastId: undefined,
    lastAt: undefined,
    lastDurationMs: undefined,
  };
  private readonly caps: BrokerCapabilities;
  private seq = 0;

  constructor(
    private readonly broker: Broker,
    private readonly state: StateStore | undefined,
    readonly group: string,
    private readonly retry: RetryOptions = {},
    private readonly policy: RestorePolicy = {},
  ) {
    this.caps = broker.capabilities ?? FULL_CAPABILITIES;
    const { atomicCommit, commitMetadata } = this.caps;
    if (!state) this.protocol = "offsets";
    else if (state.commitsWith?.(broker) && atomicCommit) this.protocol = "in-commit";
    else if (commitMetadata) this.protocol = "named";
    else this.protocol = "store-owned";
    if (this.protocol === "store-owned" && typeof state?.latest !== "function")
      throw new RivuletError(
        "INVALID_ARGUMENT",
        "this broker keeps no metadata with committed offsets, so the state store must find its latest checkpoint itself, and this one cannot (it has no latest())",
      );
    this.guarantee = atomicCommit && this.protocol !== "store-owned" ? "exactly-once" : "at-least-once";
    this.ids = this.guarantee === "at-least-once";
    this.eager = this.protocol === "store-owned";
  }

  /** Section names: `<group>/<partition number>`. */
  section(n: number): string {
    return `${this.group}/${n}`;
  }

  async open(sections: number): Promise<void> {
    const state = this.state;
    if (state?.open)
      await this.io("opening the state store", () => state.open!({ group: this.group, sections }));
  }

  /**
   * Commits what the job made since the last commit, by the protocol: with `checkpoint`, a
   * checkpoint of `tasks` too (with a state store, outputs other than eager ones go only with
   * checkpoints: the caller does not call this otherwise).
   */
  async commit(records: OutputBuffer, tasks: Tasks, checkpoint: boolean, now: number): Promise<void> {
    const broker = this.broker;
    const group = this.group;
    const state = this.state;
    if (!state) {
      const positions = this.positions(tasks, undefined);
      await this.io("committing", () => broker.commit({ records, offsets: { group, positions } }));
      return;
    }
    const started = Date.now();
    if (this.protocol === "store-owned") {
      if (records.length > 0) await this.io("writing outputs", () => broker.commit({ records }));
      if (!checkpoint) return;
      const cp = this.take(tasks);
      await this.io(`storing checkpoint "${cp.id}"`, () => state.put(cp));
      const positions = this.positions(tasks, undefined);
      const result =
        positions.length > 0
          ? await this.io("committing offsets", () =>
              broker.commit({ records: [], offsets: { group, positions } }),
            )
          : undefined;
      await this.done(tasks, cp, now, started, result);
      return;
    }
    const cp = this.take(tasks);
    const positions = this.positions(tasks, this.caps.commitMetadata ? cp.id : undefined);
    if (this.protocol === "named") await this.io(`storing checkpoint "${cp.id}"`, () => state.put(cp));
    const result = await this.io(`committing checkpoint "${cp.id}"`, () =>
      broker.commit(
        this.protocol === "in-commit"
          ? { records, offsets: { group, positions }, checkpoint: { store: state, checkpoint: cp } }
          : { records, offsets: { group, positions } },
      ),
    );
    await this.done(tasks, cp, now, started, result);
  }

  /**
   * Loads, for each section the job takes over (`fresh`), its checkpoint: the one the committed
   * offsets name, or the store's latest when offsets keep no name. Returns the group's committed
   * offsets of `assigned`, by `topic\0partition`.
   */
  async restore(
    assigned: readonly TopicPartition[],
    fresh: readonly number[],
    tasks: Tasks,
  ): Promise<Map<string, CommittedOffset>> {
    const state = this.state;
    // Offsets read after the store has settled the sections are final: a commit still in
    // flight from their previous owner (a member the group gave up on) has ended by then.
    if (fresh.length > 0 && state?.settle)
      await this.io("settling state sections", () => state.settle!(fresh.map((s) => this.section(s))));
    const committed = new Map<string, CommittedOffset>();
    for (const topic of new Set(assigned.map((tp) => tp.topic)))
      for (const c of await this.io("reading committed offsets", () =>
        this.broker.committed(this.group, topic),
      ))
        committed.set(`${c.topic}\u0000${c.partition}`, c);
    if (!state || fresh.length === 0) return committed;
    const ids = new Map<number, string>();
    if (this.protocol === "store-owned" || (this.protocol === "in-commit" && !this.caps.commitMetadata)) {
      for (const s of fresh) {
        const id = await this.io("finding the latest checkpoint", () => state.latest!(this.section(s)));
        if (id !== undefined) ids.set(s, id);
      }
    } else {
      const wanted = new Set(fresh);
      for (const tp of assigned) {
        const c = committed.get(`${tp.topic}\u0000${tp.partition}`);
        if (!c?.metadata || !wanted.has(c.partition)) continue;
        const seen = ids.get(c.partition);
        if (seen === undefined || seqOf(c.metadata) > seqOf(seen)) ids.set(c.partition, c.metadata);
      }
    }
    const snaps: SectionSnapshot[] = [];
    for (const [section, id] of ids) {
      const snap = await this.io(`loading checkpoint "${id}"`, () => state.get(this.section(section), id));
      if (snap === undefined || snap === null || typeof snap !== "object")
        throw new RivuletError(
          "STATE",
          this.protocol === "store-owned"
            ? `checkpoint "${id}" of section ${section}, the latest the state store lists, is missing from it`
            : `checkpoint "${id}" of section ${section}, named by the committed offsets of group "${this.group}", is missing from the state store`,
        );
      const s = snap as SectionSnapshot;
      this.seq = Math.max(this.seq, s.seq ?? seqOf(id));
      snaps.push(s);
    }
    tasks.restoreSections(snaps, this.policy);
    return committed;
  }

  /** A checkpoint of every section the tasks own, under a fresh id. */
  private take(tasks: Tasks): Checkpoint {
    const seq = ++this.seq;
    const id = `${this.group}-${seq}`;
    const sections = new Map<string, unknown>();
    for (const [n, snap] of tasks.snapshotSections(seq).sections) sections.set(this.section(n), snap);
    return { id, seq, sections };
  }

  /** The next offset of every partition that has one, named by `id` when given. */
  private positions(tasks: Tasks, id: string | undefined): CommittedOffset[] {
    const out: CommittedOffset[] = [];
    for (const p of tasks.partitions.values())
      if (p.offset !== undefined)
        out.push(
          id === undefined
            ? { topic: p.topic, partition: p.partition, offset: p.offset }
            : { topic: p.topic, partition: p.partition, offset: p.offset, metadata: id },
        );
    return out;
  }

  /**
   * A checkpoint is committed: older ones may go; the stats move on. Not when the broker left
   * positions out: a partition moved to another member before this job saw the rebalance, and
   * that member restores its section from the checkpoint the last commit with its position
   * named, which dropping older checkpoints would delete (the next commit drops them).
   */
  private async done(
    tasks: Tasks,
    cp: Checkpoint,
    now: number,
    started: number,
    // biome-ignore lint/suspicious/noConfusingVoidType: what Broker.commit resolves with
    result: void | CommitResult,
  ): Promise<void> {
    const state = this.state!;
    if (state.retain && !result?.skipped?.length)
      for (const n of tasks.ownedSections()) {
        const section = this.section(n);
        await this.io("dropping old checkpoints", () => state.retain!(section, cp.id));
      }
    Object.assign(this.stats, {
      count: this.stats.count + 1,
      lastId: cp.id,
      lastAt: now,
      lastDurationMs: Date.now() - started,
    });
  }

  private io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retrying(what, fn, this.retry);
  }
}

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf("-") + 1));
}
