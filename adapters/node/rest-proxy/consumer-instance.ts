/**
 * A v2 consumer instance: a group member (exact partitions, or subscribed topics), the records
 * it fetched and has not returned yet, and its positions. Records are returned in the
 * instance's embedded format; `GET .../records` waits up to its timeout for data. A seek works
 * at any time: it empties that partition's buffer and the next records come from the new
 * position, so a client that lost a response seeks back and gets the same records again.
 * Fetching pauses while the instance holds more than its buffer limit.
 *
 * @example
 * const instance = new ConsumerInstance(clients, metadata, config);
 * await instance.assign([{ topic: "clicks", partition: 0 }]);
 * const records = await instance.records({ timeoutMs: 1000, maxBytes: 1 << 20 });
 *
 * @module
 */
import type { Assignment } from "kafkajs";
import type { MemberRequest } from "./assigner.js";
import { kafkaError, proxyErrors } from "./errors.js";
import { FetchBuffer, tpKey } from "./fetch-buffer.js";
import { type FetchedBatch, GroupMember, type TopicPartition } from "./group-member.js";
import type { EmbeddedFormat } from "./http.js";
import type { KafkaClients } from "./kafka-clients.js";
import type { Metadata } from "./metadata.js";
import { consumedRecord, type WireRecord } from "./records.js";

export interface InstanceConfig {
  group: string;
  name: string;
  format: EmbeddedFormat;
  autoOffsetReset: "earliest" | "latest";
  autoCommit: boolean;
  /** Bytes to wait for before a fetch returns early (1: any record; -1: wait the whole timeout). */
  fetchMinBytes: number;
  /** The instance's default fetch wait (`consumer.request.timeout.ms`). */
  requestTimeout: number | undefined;
  readUncommitted: boolean;
  /** Bytes of fetched records held before fetching pauses. */
  bufferBytes: number;
}

export interface CommitOffset extends TopicPartition {
  offset: number;
  metadata?: string | null;
}

type Mode =
  | { kind: "none" }
  | { kind: "assigned"; partitions: TopicPartition[] }
  | { kind: "subscribed"; topics: string[] };

const EXCLUSIVE = "Subscription to topics, partitions and pattern are mutually exclusive.";
const AUTO_COMMIT_MS = 5_000;

export class ConsumerInstance {
  lastUsed = Date.now();
  /** Requests in progress: an instance in use never expires. */
  active = 0;
  private mode: Mode = { kind: "none" };
  private member: GroupMember | undefined;
  /** Partitions the member holds since its last join. */
  private owned = new Set<string>();
  private readonly buffer = new FetchBuffer();
  private paused = false;
  private waiters = new Set<() => void>();
  private lock: Promise<unknown> = Promise.resolve();
  private autoCommitted = new Map<string, number>();
  private readonly autoCommitTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly clients: KafkaClients,
    private readonly metadata: Metadata,
    readonly config: InstanceConfig,
  ) {
    if (config.autoCommit) {
      this.autoCommitTimer = setInterval(() => void this.autoCommit().catch(() => {}), AUTO_COMMIT_MS);
      this.autoCommitTimer.unref();
    }
  }

  /** `POST .../subscription`: replaces the subscription (409 when partitions are assigned). */
  subscribe(topics: string[]): Promise<void> {
    return this.exclusive(async () => {
      if (this.mode.kind === "assigned") throw proxyErrors.illegalState(EXCLUSIVE);
      for (const t of topics) await this.metadata.topic(t);
      await this.reset();
      if (topics.length === 0) return;
      this.mode = { kind: "subscribed", topics };
      await this.startMember({ subscribe: true }, topics);
    });
  }

  /** `POST .../assignments`: exactly these partitions (409 when subscribed). */
  assign(partitions: TopicPartition[]): Promise<void> {
    return this.exclusive(async () => {
      if (this.mode.kind === "subscribed") throw proxyErrors.illegalState(EXCLUSIVE);
      await this.metadata.checkPartitions(partitions);
      const unique = [...new Map(partitions.map((p) => [tpKey(p.topic, p.partition), p])).values()];
      const keep = new Set(unique.map((p) => tpKey(p.topic, p.partition)));
      await this.stopMember();
      this.buffer.clear();
      this.buffer.retain(keep);
      this.mode = unique.length === 0 ? { kind: "none" } : { kind: "assigned", partitions: unique };
      if (unique.length === 0) return;
      const assign: Assignment = {};
      for (const { topic, partition } of unique) (assign[topic] ??= []).push(partition);
      await this.startMember({ assign }, Object.keys(assign));
    });
  }

  /** `DELETE .../subscription`: no subscription and no assignment any more. */
  unsubscribe(): Promise<void> {
    return this.exclusive(() => this.reset());
  }

  subscription(): string[] {
    return this.mode.kind === "subscribed" ? [...this.mode.topics] : [];
  }

  assignment(): TopicPartition[] {
    if (this.mode.kind === "assigned") return this.mode.partitions.map((p) => ({ ...p }));
    return [...this.owned].map(splitKey);
  }

  /** `POST .../positions`: moves positions (offsets clamped to what the partitions hold). */
  seek(offsets: readonly CommitOffset[]): Promise<void> {
    return this.exclusive(async () => {
      for (const o of offsets) this.checkOwned(o);
      const bounds = await this.bounds(offsets);
      for (const { topic, partition, offset } of offsets) {
        const [low, high] = bounds.get(tpKey(topic, partition))!;
        this.moveTo(topic, partition, Math.min(Math.max(offset, low), high));
      }
    });
  }

  /** `POST .../positions/beginning` and `.../positions/end`. */
  seekTo(partitions: readonly TopicPartition[], where: "beginning" | "end"): Promise<void> {
    return this.exclusive(async () => {
      for (const p of partitions) this.checkOwned(p);
      const bounds = await this.bounds(partitions);
      for (const { topic, partition } of partitions) {
        const [low, high] = bounds.get(tpKey(topic, partition))!;
        this.moveTo(topic, partition, where === "beginning" ? low : high);
      }
    });
  }

  /**
   * `GET .../records`: what the instance holds, waiting up to `timeoutMs` for at least
   * `fetch.min.bytes`, at most `maxBytes` of keys and values (at least one record).
   */
  async records({ timeoutMs, maxBytes }: { timeoutMs: number; maxBytes: number }): Promise<WireRecord[]> {
    this.checkOpen();
    if (this.mode.kind === "none")
      throw proxyErrors.illegalState("Consumer is not subscribed to any topics or assigned any partitions");
    const deadline = Date.now() + timeoutMs;
    const min = this.config.fetchMinBytes;
    // Early with `fetch.min.bytes` (any record for 1, the default), or a full response; -1 waits it out.
    const ready = () =>
      this.buffer.count > 0 &&
      ((min !== -1 && (min <= 1 || this.buffer.bytes >= min)) || this.buffer.bytes >= maxBytes);
    while (!ready() && !this.closed && Date.now() < deadline) {
      const failure = this.member?.failure();
      if (failure !== undefined) throw kafkaError(`consumer group "${this.config.group}"`, failure);
      await this.changed(deadline - Date.now());
    }
    this.checkOpen();
    const out = this.buffer.take(maxBytes, (tp, m) =>
      consumedRecord(tp.topic, tp.partition, m, this.config.format),
    );
    if (this.paused && this.buffer.bytes < this.config.bufferBytes / 2) {
      this.paused = false;
      this.member?.resume(this.assignment());
    }
    return out;
  }

  /**
   * `POST .../offsets`: commits the given offsets, with their metadata, or, without a body, the
   * positions of what the instance returned (and where it sought to).
   */
  commit(offsets: readonly CommitOffset[] | undefined): Promise<void> {
    return this.exclusive(async () => {
      const member = this.member;
      if (!member)
        throw proxyErrors.illegalState("committing needs a subscription or an assignment (none is active)");
      const list = offsets ?? this.positions();
      if (offsets) await this.metadata.checkPartitions(offsets);
      if (list.length > 0) await member.commit(list);
    });
  }

  /** `GET .../offsets`: the group's committed offsets (and metadata) of these partitions. */
  async committed(
    partitions: readonly TopicPartition[] | undefined,
  ): Promise<{ topic: string; partition: number; offset: number; metadata: string }[]> {
    this.checkOpen();
    const list = partitions ?? this.assignment();
    const topics = [...new Set(list.map((p) => p.topic))];
    for (const t of topics) await this.metadata.topic(t);
    if (topics.length === 0) return [];
    let fetched: Awaited<ReturnType<Awaited<ReturnType<KafkaClients["admin"]>>["fetchOffsets"]>>;
    try {
      const admin = await this.clients.admin();
      fetched = await admin.fetchOffsets({ groupId: this.config.group, topics });
    } catch (e) {
      throw kafkaError(`reading the committed offsets of group "${this.config.group}"`, e);
    }
    const found = new Map<string, { offset: number; metadata: string }>();
    for (const t of fetched)
      for (const p of t.partitions)
        if (Number(p.offset) >= 0)
          found.set(tpKey(t.topic, p.partition), { offset: Number(p.offset), metadata: p.metadata ?? "" });
    return list.flatMap(({ topic, partition }) => {
      const f = found.get(tpKey(topic, partition));
      return f ? [{ topic, partition, ...f }] : [];
    });
  }

  /** Closes the instance: auto-commits when enabled, leaves the group. */
  close(): Promise<void> {
    if (this.closed) return this.lock.then(() => {});
    this.closed = true;
    if (this.autoCommitTimer) clearInterval(this.autoCommitTimer);
    this.notify();
    const run = this.lock.then(async () => {
      if (this.config.autoCommit) await this.autoCommit(true).catch(() => {});
      await this.stopMember();
    });
    this.lock = run.catch(() => {});
    return run;
  }

  private async startMember(request: MemberRequest, topics: readonly string[]): Promise<void> {
    const member = new GroupMember(this.clients, {
      group: this.config.group,
      request,
      topics,
      fromBeginning: this.config.autoOffsetReset === "earliest",
      readUncommitted: this.config.readUncommitted,
      onJoin: (m, assigned) => this.onJoin(m, assigned),
      onBatch: (m, batch) => this.onBatch(m, batch),
      onCrash: (m) => {
        if (m === this.member) this.notify();
      },
    });
    this.member = member;
    try {
      await member.start();
    } catch (e) {
      if (this.member === member) {
        this.member = undefined;
        this.mode = { kind: "none" };
      }
      throw e;
    }
  }

  /** After every join: forget partitions the member lost, and fetch the others from the positions. */
  private onJoin(m: GroupMember, assigned: TopicPartition[]): void {
    if (m !== this.member) return;
    this.owned = new Set(assigned.map((p) => tpKey(p.topic, p.partition)));
    this.buffer.clear();
    this.buffer.retain(this.owned);
    for (const key of this.owned) {
      const { topic, partition } = splitKey(key);
      const position = this.buffer.positions.get(key);
      if (position !== undefined) m.seek(topic, partition, position);
    }
    this.paused = false;
    m.resume(assigned);
    this.notify();
  }

  private onBatch(m: GroupMember, batch: FetchedBatch): void {
    if (m !== this.member || this.closed || !this.owned.has(tpKey(batch.topic, batch.partition))) return;
    if (!this.buffer.add(batch)) return;
    if (!this.paused && this.buffer.bytes >= this.config.bufferBytes) {
      this.paused = true;
      m.pause(this.assignment());
    }
    this.notify();
  }

  private moveTo(topic: string, partition: number, offset: number): void {
    this.buffer.seek(topic, partition, offset);
    this.member?.seek(topic, partition, offset);
  }

  private checkOwned(p: TopicPartition): void {
    const key = tpKey(p.topic, p.partition);
    const owns =
      this.mode.kind === "assigned"
        ? this.mode.partitions.some((x) => x.topic === p.topic && x.partition === p.partition)
        : this.owned.has(key);
    if (!owns)
      throw proxyErrors.illegalState(`No current assignment for partition ${p.topic}-${p.partition}`);
  }

  /** `[beginning, end]` offsets of each partition. */
  private async bounds(list: readonly TopicPartition[]): Promise<Map<string, [number, number]>> {
    const out = new Map<string, [number, number]>();
    for (const topic of new Set(list.map((p) => p.topic))) {
      let offsets: { partition: number; low: string; high: string }[];
      try {
        offsets = await (await this.clients.admin()).fetchTopicOffsets(topic);
      } catch (e) {
        throw kafkaError(`reading the offsets of topic "${topic}"`, e);
      }
      for (const o of offsets) out.set(tpKey(topic, o.partition), [Number(o.low), Number(o.high)]);
    }
    for (const p of list)
      if (!out.has(tpKey(p.topic, p.partition))) throw proxyErrors.partitionNotFound(p.topic, p.partition);
    return out;
  }

  private positions(): CommitOffset[] {
    const out: CommitOffset[] = [];
    for (const [key, offset] of this.buffer.positions) out.push({ ...splitKey(key), offset });
    return out;
  }

  private async autoCommit(force = false): Promise<void> {
    const member = this.member;
    if (!member || (this.closed && !force)) return;
    const changed = this.positions().filter(
      (p) => this.autoCommitted.get(tpKey(p.topic, p.partition)) !== p.offset,
    );
    if (changed.length === 0) return;
    await member.commit(changed);
    for (const p of changed) this.autoCommitted.set(tpKey(p.topic, p.partition), p.offset);
  }

  private async reset(): Promise<void> {
    await this.stopMember();
    this.mode = { kind: "none" };
    this.buffer.retain(new Set());
  }

  private async stopMember(): Promise<void> {
    const m = this.member;
    this.member = undefined;
    this.owned = new Set();
    this.paused = false;
    await m?.stop();
    this.notify();
  }

  /** Runs `f` after every earlier exclusive operation of this instance. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    this.checkOpen();
    const run = this.lock.then(() => {
      this.checkOpen();
      return f();
    });
    this.lock = run.catch(() => {});
    return run;
  }

  private checkOpen(): void {
    if (this.closed) throw proxyErrors.instanceNotFound(this.config.group, this.config.name);
  }

  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

function splitKey(key: string): TopicPartition {
  const at = key.lastIndexOf("\u0000");
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}
