/**
 * One KafkaJS consumer behind a consumer instance: it joins the instance's group with the
 * proxy's assigner (exact partitions, or a share of subscribed topics), hands each fresh batch
 * to the instance and reports every (re)join. KafkaJS drops a batch fetched before a seek
 * (`isStale`), so after `seek()` only records from the new position arrive. Offsets are
 * committed through the member (its generation), with their metadata, and retried across a
 * rebalance.
 *
 * @example
 * const member = new GroupMember(clients, { group, request: { assign: { t: [0] } }, topics: ["t"], ... });
 * await member.start(); // resolves once the member has joined
 *
 * @module
 */
import type { Consumer, KafkaMessage } from "kafkajs";
import { protocolType } from "../kafka-errors.js";
import { type MemberRequest, requestedAssigner } from "./assigner.js";
import { kafkaError, ProxyError } from "./errors.js";
import type { KafkaClients } from "./kafka-clients.js";

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A batch as the instance takes it. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  /** Offset after the batch (control records included): where the next fetch starts. */
  next: number;
}

export interface GroupMemberOptions {
  group: string;
  request: MemberRequest;
  topics: readonly string[];
  fromBeginning: boolean;
  readUncommitted: boolean;
  onJoin: (member: GroupMember, assigned: TopicPartition[]) => void;
  onBatch: (member: GroupMember, batch: FetchedBatch) => void;
  onCrash: (member: GroupMember, error: unknown, restarting: boolean) => void;
}

/** Errors after which a commit waits for the member's next join and tries again. */
const REJOIN = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR",
  "NOT_COORDINATOR_FOR_GROUP",
  "COORDINATOR_NOT_AVAILABLE",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "GROUP_LOAD_IN_PROGRESS",
]);
const COMMIT_DEADLINE_MS = 20_000;

export class GroupMember {
  private readonly kc: Consumer;
  private joins = 0;
  private joinWaiters = new Set<() => void>();
  private crash: { error: unknown; restarting: boolean } | undefined;
  private stopped = false;

  constructor(
    clients: KafkaClients,
    private readonly options: GroupMemberOptions,
  ) {
    this.kc = clients.kafka.consumer({
      groupId: options.group,
      partitionAssigners: [requestedAssigner(options.request)],
      sessionTimeout: 30_000,
      rebalanceTimeout: 30_000,
      // Frequent heartbeats: another instance joining the group waits for this one to rejoin.
      heartbeatInterval: 1_000,
      // Short fetch waits: a seek takes effect at the next fetch.
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
      readUncommitted: options.readUncommitted,
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
    });
    this.kc.on(this.kc.events.GROUP_JOIN, ({ payload }) => {
      if (this.stopped) return;
      this.joins++;
      this.crash = undefined;
      const assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      options.onJoin(this, assigned);
      for (const w of this.joinWaiters) w();
    });
    this.kc.on(this.kc.events.CRASH, ({ payload }) => {
      if (this.stopped) return;
      this.crash = { error: payload.error, restarting: payload.restart };
      options.onCrash(this, payload.error, payload.restart);
      for (const w of this.joinWaiters) w();
    });
  }

  /** Connects, joins the group and starts fetching; resolves once joined (or fails clearly). */
  async start(): Promise<void> {
    const what = `joining consumer group "${this.options.group}"`;
    try {
      await this.kc.connect();
      await this.kc.subscribe({
        topics: [...this.options.topics],
        fromBeginning: this.options.fromBeginning,
      });
      await this.kc.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, isStale }) => {
          if (this.stopped || isStale()) return;
          this.options.onBatch(this, {
            topic: batch.topic,
            partition: batch.partition,
            messages: batch.messages,
            next: Number(batch.lastOffset()) + 1,
          });
        },
      });
    } catch (e) {
      await this.stop();
      throw kafkaError(what, e);
    }
    if (this.joins === 0) {
      const error = this.crash?.error ?? new Error("the consumer stopped before it joined");
      await this.stop();
      throw kafkaError(what, error);
    }
  }

  /** Where the next fetch of a partition starts (effective at that fetch). */
  seek(topic: string, partition: number, offset: number): void {
    try {
      this.kc.seek({ topic, partition, offset: String(offset) });
    } catch {
      // Between a crash and its restart: the instance seeks again when the member rejoins.
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    try {
      this.kc.pause(byTopic(partitions));
    } catch {}
  }

  resume(partitions: readonly TopicPartition[]): void {
    try {
      this.kc.resume(byTopic(partitions));
    } catch {}
  }

  /** The error that stopped the member for good, if one did. */
  failure(): unknown {
    return this.crash && !this.crash.restarting ? this.crash.error : undefined;
  }

  /** Commits offsets (with metadata) through the member, waiting out a rebalance. */
  async commit(
    offsets: readonly (TopicPartition & { offset: number; metadata?: string | null })[],
  ): Promise<void> {
    const deadline = Date.now() + COMMIT_DEADLINE_MS;
    for (;;) {
      const joinsBefore = this.joins;
      try {
        await this.kc.commitOffsets(
          offsets.map(({ topic, partition, offset, metadata }) => ({
            topic,
            partition,
            offset: String(offset),
            metadata: metadata ?? null,
          })),
        );
        return;
      } catch (e) {
        const type = protocolType(e);
        const between =
          (e as { name?: string }).name === "KafkaJSNonRetriableError" && /not initialized/.test(String(e));
        if (this.stopped || !((type !== undefined && REJOIN.has(type)) || between) || Date.now() > deadline)
          throw e instanceof ProxyError
            ? e
            : kafkaError(`committing offsets of group "${this.options.group}"`, e);
        await this.nextJoin(joinsBefore, Math.min(2_000, deadline - Date.now()));
      }
    }
  }

  /** Leaves the group and disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.joinWaiters) w();
    await this.kc.disconnect().catch(() => {});
  }

  private nextJoin(after: number, ms: number): Promise<void> {
    if (this.joins > after) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.joinWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.joinWaiters.add(done);
    });
  }
}

function byTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = m.get(topic) ?? [];
    if (list.length === 0) m.set(topic, list);
    list.push(partition);
  }
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}
