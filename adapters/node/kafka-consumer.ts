import type {
  Batch,
  ConsumerRunConfig,
  EachBatchPayload,
  IHeaders,
  Consumer as KafkaJSConsumer,
  KafkaMessage,
} from "kafkajs";
import type {
  CommittedOffset,
  Consumer,
  Headers,
  PartitionBatch,
  RebalanceEvent,
  TopicPartition,
} from "../../core/index.js";
import { batchOf, columnBatch, RivuletError } from "../../core/index.js";
import { brokerError, isRetriable, protocolType } from "./kafka-errors.js";

/** How a held `eachBatch` call ends: offsets resolved, left alone (seek, close), or failed (rejoin). */
type Outcome = { kind: "resolve" } | { kind: "skip" } | { kind: "fail"; error: unknown };

/** A KafkaJS batch waiting in `eachBatch` until the job has taken and committed it. */
interface Held {
  readonly key: string;
  /** Its records in columns (with their offsets); polls hand out slices of it. */
  readonly batch: PartitionBatch & { readonly offsets: readonly number[] };
  /** Index of the next record to hand out. */
  next: number;
  /** Offset after the batch, trailing control records included (`batch.lastOffset() + 1`). */
  readonly end: number;
  /** Offset after its last record: a commit at or past it covers the batch. */
  readonly last: number;
  /** Whether any of its records was handed out (then only a commit releases it). */
  taken: boolean;
  readonly settle: (outcome: Outcome) => void;
}

export interface KafkaConsumerTuning {
  /** How long an empty `poll` waits for data when nothing suggests more is coming (ms). */
  idleWait: number;
  /** Longest an empty `poll` waits while more data is expected (after a join, a seek, a batch). */
  lagWait: number;
  /** How often a held batch heartbeats the group (KafkaJS only sends when `heartbeatInterval` is due). */
  heartbeatEvery: number;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * One member of a consumer group, adapting KafkaJS's push API (`run({ eachBatch })`) to the
 * seam's pull API (`poll`). `eachBatch` queues its batch and waits, heartbeating, until the job
 * has taken all of it and committed it (or, for a consumer that never commits, until the next
 * poll). KafkaJS fetches again, and can rejoin its group, only once every `eachBatch` of a fetch
 * has returned, so no rebalance happens while the job holds uncommitted records: when a
 * heartbeat reports one, either everything handed out is committed and the member rejoins at
 * once (the new assignment then comes as a diff), or the next `poll` revokes the whole
 * assignment first, so that the job commits it inside the old generation (Kafka's eager
 * protocol). Internal: made by `KafkaBroker.consumer`.
 */
export class KafkaConsumer implements Consumer {
  private assigned: TopicPartition[] = [];
  private assignedKeys = new Set<string>();
  /** The assignment of the latest GROUP_JOIN, applied by the next `poll`. */
  private pending: Record<string, number[]> | undefined;
  private readonly queues = new Map<string, Held[]>();
  /** Batches handed out completely, waiting for a commit that covers them. */
  private inFlight: Held[] = [];
  /** Next offset `poll` hands out, per partition, once known. */
  private readonly positions = new Map<string, number>();
  /** Offset after the last record handed out, per partition. */
  private readonly handedOut = new Map<string, number>();
  /** Highest offset committed for the group through this broker, per partition. */
  private readonly committedTo = new Map<string, number>();
  private readonly highWatermarks = new Map<string, number>();
  /**
   * Whether the group's offsets are committed through this broker (a job: from the moment it
   * registers with {@link holdsUncommitted}, before its first commit); else poll releases.
   */
  private commits = false;
  /** Commits of this member's group under way on the broker (nothing is let go meanwhile). */
  private committing = 0;
  private listeners: ((e: RebalanceEvent) => void | Promise<void>)[] = [];
  private waiters = new Set<() => void>();
  /** More data may be on its way: an empty poll waits for a fetch that comes back empty. */
  private expectData = true;
  /** Fetches started, per broker node (KafkaJS runs one fetch loop per node). */
  private readonly fetchStarts = new Map<number, number>();
  /** A heartbeat reported a rebalance (or failed); handled once nothing handed out is uncommitted. */
  private rebalance: unknown;
  /** Every batch was let go so that KafkaJS rejoins; until the next join or fetch. */
  private rejoining = false;
  private crashed: unknown;
  private closed = false;
  private joined = false;
  /** KafkaJS's loop options, to start it again after a crash it did not restart from (once joined). */
  private runConfig: ConsumerRunConfig | undefined;
  /** Backoff before the next such restart (ms). */
  private restartDelay = 0;
  /** This member's id in the group, from its last join. */
  memberId: string | undefined;
  /**
   * The group generation this member is in, once a heartbeat has confirmed it since the last
   * join (KafkaJS reports no generation with the join itself); fences transactional offset
   * commits of a member that has left it (KIP-447).
   */
  generationId: number | undefined;
  /** Joins so far: a commit that spans one may cover partitions the group moved meanwhile. */
  joins = 0;
  /**
   * When the request was sent by which the group last confirmed this member (set by the broker
   * before a commit). Only a send time counts: a response read after a stall of the process
   * tells how things stood before it, so heartbeat and join responses are not used.
   */
  confirmedAt = Number.NEGATIVE_INFINITY;
  /** Whether the job holds outputs it has not committed. */
  private jobHolds: () => boolean = () => false;
  /** Why the group no longer counts this member as the owner of its assignment, if it does not. */
  private lostReason: string | undefined;

  constructor(
    readonly group: string,
    readonly topics: readonly string[],
    private readonly kc: KafkaJSConsumer,
    private readonly tuning: KafkaConsumerTuning,
    private readonly onClose: (c: KafkaConsumer) => Promise<void>,
  ) {
    kc.on(kc.events.GROUP_JOIN, ({ payload }) => {
      // A new member id: the group expelled the old one (its session expired) and handed its
      // partitions to others, which may have moved them on since.
      if (this.memberId !== undefined && payload.memberId !== this.memberId)
        this.lostReason ??= `the group expelled member ${this.memberId} (its session expired)`;
      this.memberId = payload.memberId;
      this.generationId = undefined;
      this.joins++;
      this.pending = payload.memberAssignment;
      this.joined = true;
      this.restartDelay = 0;
      this.rejoining = false;
      this.expectData = true;
      this.notify();
    });
    kc.on(kc.events.HEARTBEAT, ({ payload }) => {
      // A heartbeat succeeds only in the member's current generation.
      if (payload.memberId === this.memberId) this.generationId = payload.groupGenerationId;
    });
    kc.on(kc.events.FETCH_START, ({ payload }) => {
      this.fetchStarts.set(payload.nodeId, (this.fetchStarts.get(payload.nodeId) ?? 0) + 1);
      this.rejoining = false;
      this.notify();
    });
    // Batches of only control records or aborted transactions never reach eachBatch: KafkaJS
    // resolves them itself. Their end is still the partition's new position.
    kc.on(kc.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize > 0) return;
      const key = tpKey(payload.topic, payload.partition);
      const pos = this.positions.get(key);
      if (pos === undefined || (this.queues.get(key)?.length ?? 0) > 0) return;
      this.positions.set(key, Math.max(pos, Number(payload.lastOffset) + 1));
    });
    kc.on(kc.events.CRASH, ({ payload }) => {
      if (!payload.restart) {
        if (this.runConfig && !this.closed && isRetriable(payload.error)) this.restartLater();
        else this.crashed = payload.error;
      }
      this.notify();
    });
  }

  /**
   * KafkaJS gives up on a consumer that cannot find its group coordinator because no broker
   * accepts a connection (a single broker restarting: KafkaJSGroupCoordinatorNotFound is
   * non-retriable), though it restarts after other transient failures. Its loop is started
   * again here, as KafkaJS itself would: the member rejoins under a new id, so the next poll
   * reports its partitions lost, and the job restores what it is given then.
   */
  private restartLater(): void {
    this.restartDelay = Math.min(10_000, Math.max(500, this.restartDelay * 2));
    setTimeout(() => {
      if (this.closed || !this.runConfig) return;
      this.kc.run(this.runConfig).catch((e) => {
        this.crashed = e;
        this.notify();
      });
    }, this.restartDelay);
  }

  /** @internal Starts KafkaJS's loop and resolves once the member has joined the group. */
  async start(concurrency: number): Promise<void> {
    const config: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      // One worker per partition: a held batch must not keep another partition's batch waiting.
      partitionsConsumedConcurrently: Math.max(1, concurrency),
      eachBatch: (payload) => this.eachBatch(payload),
    };
    await this.kc.run(config);
    // run() resolves after the first join, or after a failed one was handled as a crash.
    if (!this.joined)
      throw brokerError(`consumer of group "${this.group}" could not join`, this.crashed ?? "no assignment");
    this.runConfig = config;
  }

  assignment(): readonly TopicPartition[] {
    return this.assigned;
  }

  onRebalance(listener: (event: RebalanceEvent) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async poll({ maxRecords }: { maxRecords: number }): Promise<PartitionBatch[]> {
    this.check();
    // Without commits through this broker, the next poll is all that says "done with it".
    if (!this.commits) this.release(() => true);
    const started = Date.now();
    let quietAfter: Map<number, number> | undefined;
    for (;;) {
      if (this.lostReason !== undefined) await this.loseAll();
      if (this.pending) await this.applyAssignment(this.pending);
      this.check();
      if (this.rebalance !== undefined) {
        this.rejoinIfClean();
        if (this.rebalance !== undefined) {
          await this.revokeAll();
          return [];
        }
      }
      const { batches, records } = this.take(maxRecords);
      if (records > 0) {
        this.expectData = true;
        return batches;
      }
      // KafkaJS fetches nothing more until the job commits what it holds: let it commit.
      if (this.inFlight.length > 0) {
        await this.signal(5);
        return batches;
      }
      const elapsed = Date.now() - started;
      if (this.expectData || this.rejoining) {
        // Empty only once, from every broker, a fetch that started after this point has come
        // back without data (the next one starting proves its batches all reached eachBatch).
        quietAfter ??= new Map(this.fetchStarts);
        if (this.fetchedSince(quietAfter, 2) && !this.rejoining) {
          this.expectData = false;
          return batches;
        }
        if (elapsed >= this.tuning.lagWait) return batches;
        await this.signal(Math.min(50, this.tuning.lagWait - elapsed));
      } else {
        if (elapsed >= this.tuning.idleWait) return batches;
        await this.signal(this.tuning.idleWait - elapsed);
      }
    }
  }

  /**
   * True once a fetch after the last records handed out came back empty (the read_committed
   * end). While KafkaJS waits for the job to commit what it holds, the end is the high
   * watermark of the partitions' last batches.
   */
  atEnd(): boolean {
    if (!this.joined || this.pending || this.rejoining || this.rebalance !== undefined) return false;
    if (this.queued() > 0) return false;
    if (this.inFlight.length === 0) return !this.expectData;
    return this.assigned.every((tp) => {
      const key = tpKey(tp.topic, tp.partition);
      const hw = this.highWatermarks.get(key);
      return hw === undefined || (this.positions.get(key) ?? 0) >= hw;
    });
  }

  seek(topic: string, partition: number, offset: number): void {
    const key = tpKey(topic, partition);
    if (!this.assignedKeys.has(key))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `partition ${topic}[${partition}] is not assigned to this consumer`,
      );
    try {
      this.kc.seek({ topic, partition, offset: String(offset) });
    } catch (e) {
      throw brokerError(`cannot seek ${topic}[${partition}] to ${offset}`, e);
    }
    this.positions.set(key, offset);
    this.handedOut.delete(key);
    this.expectData = true;
    // Queued and held records are from the old position; KafkaJS refetches from the new one.
    for (const h of this.queues.get(key) ?? []) h.settle({ kind: "skip" });
    this.queues.delete(key);
    this.release((h) => h.key === key, { kind: "skip" });
  }

  wait(timeoutMs: number): Promise<void> {
    if (this.closed || this.pending || this.queued() > 0) return Promise.resolve();
    // Held batches wait for the job's commit, which comes from its next step.
    return this.signal(Math.max(0, this.inFlight.length > 0 ? Math.min(timeoutMs, 20) : timeoutMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropAll({ kind: "skip" });
    this.notify();
    await this.onClose(this);
  }

  /** @internal Whether this member owns a partition now (offsets of others are not committed). */
  owns(topic: string, partition: number): boolean {
    // A join not yet delivered by poll may have given the partition to another member already.
    const later = this.pending?.[topic];
    return (
      this.assignedKeys.has(tpKey(topic, partition)) &&
      (later === undefined ? !this.pending : later.includes(partition))
    );
  }

  /** @internal Why this member's assignment is lost, if it is (its commits must not land). */
  lost(): string | undefined {
    return this.lostReason;
  }

  /** @internal The group no longer lists this member: the next poll reports its partitions lost. */
  markLost(reason: string): void {
    this.lostReason ??= reason;
    this.notify();
  }

  /** @internal The broker committed offsets of this member's group: covered batches are released. */
  noteCommitted(positions: readonly CommittedOffset[]): void {
    this.commits = true;
    for (const p of positions) {
      const key = tpKey(p.topic, p.partition);
      this.committedTo.set(key, Math.max(this.committedTo.get(key) ?? 0, p.offset));
    }
    this.release((h) => (this.committedTo.get(h.key) ?? -1) >= h.last);
    this.rejoinIfClean();
    this.notify();
  }

  /** @internal at-least-once: commits offsets (with metadata) as this member of the group. */
  async commitOffsets(positions: readonly CommittedOffset[]): Promise<void> {
    await this.kc.commitOffsets(
      positions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: String(p.offset),
        metadata: p.metadata ?? null,
      })),
    );
  }

  private check(): void {
    if (this.closed) throw new RivuletError("JOB_STOPPED", "consumer is closed");
    if (this.crashed !== undefined)
      throw brokerError(`consumer of group "${this.group}" stopped`, this.crashed);
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const key = tpKey(batch.topic, batch.partition);
    const owned = this.pending
      ? (this.pending[batch.topic] ?? []).includes(batch.partition)
      : this.assignedKeys.has(key);
    const last = batch.messages.at(-1);
    // Nothing new is taken on while this member is leaving its generation (a fetch that was
    // under way still delivers its batches): the next owner reads them.
    if (
      this.closed ||
      !isRunning() ||
      isStale() ||
      !owned ||
      this.rebalance !== undefined ||
      this.rejoining ||
      !last
    )
      return;
    let settle!: (o: Outcome) => void;
    const released = new Promise<Outcome>((resolve) => (settle = resolve));
    this.highWatermarks.set(key, Number(batch.highWatermark));
    const held: Held = {
      key,
      batch: toBatch(batch),
      next: 0,
      end: Number(batch.lastOffset()) + 1,
      last: Number(last.offset) + 1,
      taken: false,
      settle,
    };
    const q = this.queues.get(key);
    if (q) q.push(held);
    else this.queues.set(key, [held]);
    this.notify();
    for (;;) {
      const outcome = await settledWithin(released, this.tuning.heartbeatEvery);
      if (outcome) {
        if (outcome.kind === "fail") throw outcome.error;
        // KafkaJS resolves the trailing control record too when given the last message's offset.
        if (outcome.kind === "resolve") resolveOffset(last.offset);
        return;
      }
      try {
        await heartbeat();
      } catch (e) {
        const type = protocolType(e);
        if (type === "UNKNOWN_MEMBER_ID" || type === "ILLEGAL_GENERATION" || type === "FENCED_INSTANCE_ID")
          this.lostReason ??= `the group no longer knows member ${this.memberId} (${type})`;
        if (this.rebalance === undefined && !this.rejoining) {
          this.rebalance = e;
          this.rejoinIfClean();
          this.notify();
        }
      }
    }
  }

  /** Nothing handed out is uncommitted: let every batch go, so KafkaJS rejoins right away. */
  private rejoinIfClean(): void {
    const error = this.rebalance;
    if (error === undefined || this.dirty()) return;
    this.rebalance = undefined;
    this.rejoining = true;
    this.dropAll({ kind: "fail", error });
  }

  /** Every batch KafkaJS delivered is handed out, and it fetches no more until they are committed. */
  needsCommit(): boolean {
    return this.commits && this.inFlight.length > 0 && this.queued() === 0;
  }

  /**
   * A job registers here, so the group's offsets are committed through the broker from its
   * first batch on: what it takes is held until committed, not let go by the next poll (which
   * before the job's first commit let KafkaJS rejoin while the job held uncommitted outputs of
   * partitions the group then gave to others, which did the same records again).
   */
  holdsUncommitted(probe: () => boolean): void {
    this.jobHolds = probe;
    this.commits = true;
  }

  /** @internal The broker starts a commit of this member's group: nothing is let go until it ends. */
  beginCommit(): void {
    this.commits = true;
    this.committing++;
  }

  /** @internal The commit {@link beginCommit} announced has ended (committed or not). */
  endCommit(): void {
    this.committing = Math.max(0, this.committing - 1);
    this.rejoinIfClean();
    this.notify();
  }

  /**
   * Records handed out but not committed (only tracked once the group commits through us), or
   * outputs the job made without records (timers) that it has not committed yet.
   */
  private dirty(): boolean {
    if (!this.commits) return false;
    // A commit under way holds outputs the job no longer counts as its own (timers' too).
    if (this.committing > 0 || this.jobHolds()) return true;
    for (const [key, end] of this.handedOut) if (end > (this.committedTo.get(key) ?? -1)) return true;
    return false;
  }

  /**
   * A rebalance while the job holds uncommitted records: the whole assignment is revoked now,
   * inside the old generation, so the job commits it before this member rejoins.
   */
  private async revokeAll(): Promise<void> {
    const revoked = this.assigned;
    try {
      // The job commits here; the commit lets every batch go (rejoinIfClean).
      for (const l of this.listeners) await l({ assigned: [], revoked });
    } finally {
      this.assigned = [];
      this.assignedKeys = new Set();
      for (const m of [this.positions, this.handedOut, this.committedTo, this.highWatermarks]) m.clear();
      this.expectData = true;
      const error = this.rebalance;
      if (error !== undefined) {
        // Not committed (a listener failed or did not commit): rejoin all the same.
        this.rebalance = undefined;
        this.rejoining = true;
        this.dropAll({ kind: "fail", error });
      }
    }
  }

  /**
   * The whole assignment is lost: the job drops what it did since its last commit, and the
   * next assignment (KafkaJS rejoins as a new member) comes whole, to be restored afresh.
   */
  private async loseAll(): Promise<void> {
    const revoked = this.assigned;
    this.lostReason = undefined;
    this.assigned = [];
    this.assignedKeys = new Set();
    for (const m of [this.positions, this.handedOut, this.committedTo, this.highWatermarks]) m.clear();
    this.expectData = true;
    // Held batches go without their offsets resolved: nothing of them counts as processed.
    this.dropAll({ kind: "skip" });
    if (revoked.length > 0) for (const l of this.listeners) await l({ assigned: [], revoked, lost: true });
  }

  /** Delivers a new assignment as revoked/assigned against the previous one, listeners awaited. */
  private async applyAssignment(next: Record<string, number[]>): Promise<void> {
    this.pending = undefined;
    const order = (t: string) => {
      const i = this.topics.indexOf(t);
      return i < 0 ? this.topics.length : i;
    };
    const nextTps = Object.entries(next)
      .flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })))
      .sort((a, b) => order(a.topic) - order(b.topic) || a.partition - b.partition);
    const nextKeys = new Set(nextTps.map((tp) => tpKey(tp.topic, tp.partition)));
    let revoked = this.assigned.filter((tp) => !nextKeys.has(tpKey(tp.topic, tp.partition)));
    // KafkaJS rejoined by itself (no batch was held), so partitions moved without a commit.
    // Outputs the job made since its last one (timers) may come from them: they cannot be
    // committed now, so everything goes back to the last commit, to be restored whole.
    if (revoked.length > 0 && this.commits && this.jobHolds()) {
      await this.loseAll(); // reports them revoked (lost); the new assignment comes whole
      revoked = [];
    }
    const assigned = nextTps.filter((tp) => !this.assignedKeys.has(tpKey(tp.topic, tp.partition)));
    for (const tp of revoked) {
      const key = tpKey(tp.topic, tp.partition);
      for (const h of this.queues.get(key) ?? []) h.settle({ kind: "skip" });
      this.queues.delete(key);
      for (const m of [this.positions, this.handedOut, this.committedTo, this.highWatermarks]) m.delete(key);
    }
    // KafkaJS restarts kept partitions from their committed offsets; continue where the job is.
    for (const tp of this.assigned) {
      const pos = this.positions.get(tpKey(tp.topic, tp.partition));
      if (pos === undefined || !nextKeys.has(tpKey(tp.topic, tp.partition))) continue;
      try {
        this.kc.seek({ topic: tp.topic, partition: tp.partition, offset: String(pos) });
      } catch {
        // KafkaJS is restarting after a crash; records below the position are skipped anyway.
      }
    }
    // Revoked partitions are another member's already: the job's commit leaves them alone.
    this.assigned = nextTps;
    this.assignedKeys = nextKeys;
    this.expectData = true;
    if (revoked.length === 0 && assigned.length === 0) return;
    for (const l of this.listeners) await l({ assigned, revoked });
  }

  /** Lets go of every batch: queued ones, partly handed-out ones and held ones. */
  private dropAll(outcome: Outcome): void {
    for (const q of this.queues.values()) for (const h of q) h.settle(outcome);
    this.queues.clear();
    this.release(() => true, outcome);
  }

  /** Releases the handed-out batches that `which` selects. */
  private release(which: (h: Held) => boolean, outcome: Outcome = { kind: "resolve" }): void {
    const keep: Held[] = [];
    for (const h of this.inFlight) {
      if (which(h)) h.settle(outcome);
      else keep.push(h);
    }
    this.inFlight = keep;
  }

  private fetchedSince(mark: ReadonlyMap<number, number>, fetches: number): boolean {
    if (this.fetchStarts.size === 0) return false;
    for (const [node, n] of this.fetchStarts) if (n - (mark.get(node) ?? 0) < fetches) return false;
    return true;
  }

  private queued(): number {
    let n = 0;
    for (const q of this.queues.values()) for (const h of q) n += h.batch.end - h.next;
    return n;
  }

  /**
   * Up to `max` records per assigned partition from the queued batches, in offset order: for each
   * partition a slice of each held batch it takes records from (or one empty batch, for its lag).
   */
  private take(max: number): { batches: PartitionBatch[]; records: number } {
    const batches: PartitionBatch[] = [];
    let total = 0;
    for (const tp of this.assigned) {
      const key = tpKey(tp.topic, tp.partition);
      const q = this.queues.get(key);
      let pos = this.positions.get(key);
      const slices: { batch: Held["batch"]; start: number; end: number }[] = [];
      let taken = 0;
      while (q && q.length > 0 && taken < max) {
        const h = q[0]!;
        const { end, offsets } = h.batch;
        // Refetched records (after a rejoin or a retried fetch) below the position were handed out already.
        while (h.next < end && pos !== undefined && offsets[h.next]! < pos) h.next++;
        const n = Math.min(max - taken, end - h.next);
        if (n > 0) {
          slices.push({ batch: h.batch, start: h.next, end: h.next + n });
          h.next += n;
          h.taken = true;
          taken += n;
          pos = offsets[h.next - 1]! + 1;
          this.handedOut.set(key, pos);
        }
        if (h.next >= end) {
          q.shift();
          pos = Math.max(pos ?? h.end, h.end);
          // Nothing of it was new (a refetch): nothing for the job to commit either.
          if (h.taken || !this.commits) this.inFlight.push(h);
          else h.settle({ kind: "resolve" });
        }
      }
      if (q && q.length === 0) this.queues.delete(key);
      if (pos !== undefined) this.positions.set(key, pos);
      const highWatermark = Math.max(this.highWatermarks.get(key) ?? 0, pos ?? 0);
      if (slices.length === 0) batches.push(batchOf(tp, [], highWatermark));
      for (const s of slices)
        batches.push({
          ...s.batch,
          start: s.start,
          end: s.end,
          firstOffset: s.batch.offsets[s.start]!,
          highWatermark,
        });
      total += taken;
    }
    return { batches, records: total };
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Resolves on the next event (data, assignment, fetch, commit, close) or after `ms`. */
  private signal(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

/** The outcome if `p` settles within `ms`, else undefined. */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A KafkaJS batch's messages in columns: values as bytes, keys and headers decoded as UTF-8. */
function toBatch(batch: Batch): Held["batch"] {
  const ms: KafkaMessage[] = batch.messages;
  const n = ms.length;
  const values: unknown[] = new Array(n);
  const timestamps: number[] = new Array(n);
  const offsets: number[] = new Array(n);
  let keys: (string | null)[] | undefined;
  let headers: (Headers | undefined)[] | undefined;
  for (let i = 0; i < n; i++) {
    const m = ms[i]!;
    values[i] = m.value;
    timestamps[i] = Number(m.timestamp);
    offsets[i] = Number(m.offset);
    if (m.key !== null) (keys ??= new Array(n).fill(null))[i] = m.key.toString("utf8");
    if (m.headers && Object.keys(m.headers).length > 0)
      (headers ??= new Array(n).fill(undefined))[i] = decodeHeaders(m.headers);
  }
  return columnBatch(batch, { values, timestamps, keys, headers, offsets }, Number(batch.highWatermark));
}

/** Kafka header values are bytes; Rivulet's are UTF-8 strings (the last one wins when repeated). */
function decodeHeaders(h: IHeaders): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) {
    const last = Array.isArray(v) ? v.at(-1) : v;
    if (last === undefined) continue;
    out[k] = typeof last === "string" ? last : last.toString("utf8");
  }
  return out;
}
