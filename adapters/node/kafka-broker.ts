import { randomUUID } from "node:crypto";
import type {
  Admin,
  KafkaConfig,
  logCreator,
  Message,
  PartitionOffset,
  RetryOptions,
  TopicMessages,
} from "kafkajs";
import type {
  Broker,
  BrokerCapabilities,
  CommitResult,
  CommittedOffset,
  Consumer,
  ConsumerOptions,
  OutgoingRecord,
  TopicOptions,
  Transaction,
} from "../../core/index.js";
import {
  ID_HEADER,
  isRivuletError,
  type OutputBuffer,
  outputOf,
  partitionForKey,
  RivuletError,
  topicNameProblem,
} from "../../core/index.js";
import { coPartitionedAssigner } from "./co-partitioned-assigner.js";
import { KafkaConsumer } from "./kafka-consumer.js";
import { brokerError, createTopicAndWait, protocolType, withDeadline } from "./kafka-errors.js";
import { Kafka, logLevel as KafkaLogLevels, Partitioners } from "./kafkajs.js";
import {
  type Chunk,
  PlatformaticProducer,
  type ProducerClient,
  type TransactionClient,
} from "./platformatic-producer.js";
import { RecordBatchBuilder } from "./record-batch.js";

export type KafkaLogLevel = "nothing" | "error" | "warn" | "info" | "debug";

export interface KafkaBrokerOptions {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  /** Client id sent with every request (default `rivulet`). */
  clientId?: string;
  /**
   * `exactly-once` (default): outputs and offsets commit in one Kafka transaction, consumers read
   * committed. `at-least-once`: an idempotent producer writes, then the group commits offsets;
   * a crash in between replays the batch.
   */
  guarantee?: "exactly-once" | "at-least-once";
  /** Transactional id of the exactly-once producer (default `<clientId>-<random>`). */
  transactionalId?: string;
  /** How long to try reaching the cluster before failing with a `BROKER` error (ms, default 10 000). */
  connectionTimeout?: number;
  /** Per-request timeout (ms, default 30 000). */
  requestTimeout?: number;
  /** KafkaJS log level (default `error`); protocol errors KafkaJS retries by itself are logged at `debug`. */
  logLevel?: KafkaLogLevel;
  /** Consumer group session timeout (ms, default 30 000). */
  sessionTimeout?: number;
  /** Consumer group heartbeat interval (ms, default 3 000). */
  heartbeatInterval?: number;
  /**
   * SASL authentication of every client it makes (producers, consumers, admin), as KafkaJS takes
   * it: `{ mechanism: "scram-sha-256", username, password }` (also `plain`, `scram-sha-512`, ...).
   */
  sasl?: KafkaConfig["sasl"];
  /** TLS for every client it makes: `true` (the system's CAs) or Node's TLS options (`ca`, `cert`, `key`). */
  ssl?: KafkaConfig["ssl"];
  /**
   * The client that writes: `kafkajs` (default) or `platformatic` (@platformatic/kafka, an
   * optional peer dependency: `npm install @platformatic/kafka`), which encodes produce requests
   * at a fraction of KafkaJS's CPU cost (q1 through Kafka: ~1.6x the events per second per core).
   * Transactions, fencing and offsets work the same with either; consumers and the admin client
   * are KafkaJS's in both cases. SASL: plain and SCRAM only with `platformatic`. Default: the
   * environment variable `RIVULET_KAFKA_PRODUCER` if set, else `kafkajs`.
   */
  producer?: "kafkajs" | "platformatic";
}

const LEVELS: Record<KafkaLogLevel, KafkaLogLevels> = {
  nothing: KafkaLogLevels.NOTHING,
  error: KafkaLogLevels.ERROR,
  warn: KafkaLogLevels.WARN,
  info: KafkaLogLevels.INFO,
  debug: KafkaLogLevels.DEBUG,
};

/** A produce request stays well below the broker's 1 MiB default record-batch limit per partition. */
const CHUNK_BYTES = 512 * 1024;
/** Lets a transaction start again quickly while the previous one's markers are written (CONCURRENT_TRANSACTIONS). */
const PRODUCER_RETRY: RetryOptions = { initialRetryTime: 20, maxRetryTime: 1_000, retries: 10 };
const CLIENT_RETRY: RetryOptions = { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 };

/**
 * The {@link Broker} seam on Apache Kafka, through KafkaJS. Exactly-once by default: each commit
 * is one transaction (records + `sendOffsetsToTransaction`, offset metadata included) and
 * consumers read committed. Keys are partitioned with murmur2, as Java clients and the in-memory
 * broker do. Consumers join groups with a co-partitioning assigner (partition N of every topic
 * to one member). Values: bytes and strings as they are, other values as JSON, `null` a tombstone.
 *
 * @example
 * import { KafkaBroker } from "rivulet/node";
 * const broker = new KafkaBroker({ brokers: ["localhost:9092"], clientId: "clicks" });
 * const job = await run(perMinute, { broker, group: "clicks-per-minute" });
 * // A secured cluster: SASL/SCRAM over TLS.
 * new KafkaBroker({ brokers: ["kafka:9094"], sasl: { mechanism: "scram-sha-256", username, password }, ssl: { ca } });
 * // ...
 * await job.stop();
 * await broker.close();
 */
export class KafkaBroker implements Broker {
  /** A group spreads partitions over processes: each partition number is a task of its own. */
  readonly defaultTasks = "per-partition" as const;
  readonly guarantee: "exactly-once" | "at-least-once";
  readonly capabilities: BrokerCapabilities;
  readonly transactionalId: string;
  private readonly kafka: Kafka;
  private readonly connectionTimeout: number;
  private readonly sessionTimeout: number;
  private readonly heartbeatInterval: number;
  private adminClient: Promise<Admin> | undefined;
  private producerClient: Promise<ProducerClient> | undefined;
  private readonly producerKind: "kafkajs" | "platformatic";
  /** Round-robin partition of the next keyless record per topic (the platformatic producer). */
  private readonly nextPartition = new Map<string, number>();
  private readonly members = new Set<KafkaConsumer>();
  /** Commits run one at a time: a transactional producer has one transaction open at most. */
  private commits: Promise<unknown> = Promise.resolve();
  /** Partition counts of topics known to exist (topics never lose partitions). */
  private readonly partitionCounts = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: KafkaBrokerOptions) {
    if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0)
      throw new RivuletError("INVALID_ARGUMENT", "KafkaBroker needs { brokers: ['host:port', ...] }");
    const clientId = options.clientId ?? "rivulet";
    this.guarantee = options.guarantee ?? "exactly-once";
    this.capabilities = Object.freeze({
      atomicCommit: this.guarantee === "exactly-once",
      commitMetadata: true,
      assignment: "group" as const,
    });
    this.transactionalId = options.transactionalId ?? `${clientId}-${randomUUID().slice(0, 8)}`;
    this.connectionTimeout = options.connectionTimeout ?? 10_000;
    this.sessionTimeout = options.sessionTimeout ?? 30_000;
    this.heartbeatInterval = options.heartbeatInterval ?? 3_000;
    this.producerKind = options.producer ?? defaultProducer();
    if (this.producerKind !== "kafkajs" && this.producerKind !== "platformatic")
      throw new RivuletError("INVALID_ARGUMENT", `KafkaBroker: producer must be "kafkajs" or "platformatic"`);
    this.kafka = new Kafka({
      clientId,
      brokers: options.brokers,
      connectionTimeout: this.connectionTimeout,
      requestTimeout: options.requestTimeout ?? 30_000,
      retry: CLIENT_RETRY,
      logLevel: LEVELS[options.logLevel ?? "error"],
      logCreator: quietRetries,
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    });
  }

  /** The bootstrap servers it was given. */
  get bootstrap(): readonly string[] {
    return this.options.brokers;
  }

  async createTopic(name: string, options: TopicOptions = {}): Promise<void> {
    const problem = topicNameProblem(name);
    if (problem) throw new RivuletError("INVALID_ARGUMENT", problem);
    const partitions = options.partitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new RivuletError("INVALID_ARGUMENT", `topic "${name}": partitions must be a positive integer`);
    const admin = await this.admin();
    try {
      await createTopicAndWait(admin, {
        topic: name,
        numPartitions: partitions,
        configEntries: options.compact ? [{ name: "cleanup.policy", value: "compact" }] : [],
      });
    } catch (e) {
      throw brokerError(`cannot create topic "${name}"`, e);
    }
  }

  async partitions(topic: string): Promise<number | undefined> {
    if (topicNameProblem(topic)) return undefined;
    const admin = await this.admin();
    try {
      // The admin client never creates topics as a side effect of asking for their metadata.
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const n = topics.find((t) => t.name === topic)?.partitions.length;
      if (n) this.partitionCounts.set(topic, n);
      return n || undefined;
    } catch (e) {
      if (protocolType(e) === "UNKNOWN_TOPIC_OR_PARTITION") return undefined;
      throw brokerError(`cannot read the metadata of topic "${topic}"`, e);
    }
  }

  async committed(group: string, topic: string): Promise<CommittedOffset[]> {
    const admin = await this.admin();
    let offsets: Awaited<ReturnType<Admin["fetchOffsets"]>>;
    try {
      offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    } catch (e) {
      if (protocolType(e) === "UNKNOWN_TOPIC_OR_PARTITION") return [];
      throw brokerError(`cannot read the committed offsets of group "${group}"`, e);
    }
    return offsets.flatMap((t) =>
      t.partitions
        .filter((p) => Number(p.offset) >= 0)
        .map((p): CommittedOffset => {
          const c: CommittedOffset = { topic: t.topic, partition: p.partition, offset: Number(p.offset) };
          if (p.metadata) c.metadata = p.metadata;
          return c;
        }),
    );
  }

  async consumer(options: ConsumerOptions): Promise<Consumer> {
    this.open();
    let partitions = 0;
    for (const t of options.topics) {
      const n = await this.partitions(t);
      if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `topic "${t}" does not exist`);
      partitions += n;
    }
    const kc = this.kafka.consumer({
      groupId: options.group,
      partitionAssigners: [coPartitionedAssigner],
      sessionTimeout: this.sessionTimeout,
      heartbeatInterval: this.heartbeatInterval,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      // Short fetch waits keep an idle member quick to notice rebalances and to stop.
      maxWaitTimeInMs: 250,
    });
    const heartbeatEvery = Math.max(100, Math.min(1_000, Math.floor(this.heartbeatInterval / 2)));
    const member = new KafkaConsumer(
      options.group,
      options.topics,
      kc,
      { idleWait: 150, lagWait: 5_000, heartbeatEvery },
      (c) => this.leave(c, kc),
    );
    try {
      await this.connect(kc, "consumer");
      await kc.subscribe({ topics: [...options.topics], fromBeginning: true });
      await member.start(partitions);
    } catch (e) {
      await kc.disconnect().catch(() => {});
      throw brokerError(`cannot join consumer group "${options.group}"`, e);
    }
    this.members.add(member);
    return member;
  }

  async commit(tx: Transaction): Promise<CommitResult | undefined> {
    this.open();
    // Everything is checked and encoded before anything is sent, so a bad record sends nothing.
    const buffers = [outputOf(tx.records)];
    if (tx.checkpoint) buffers.push(outputOf(checkpointRecords(tx.checkpoint)));
    const chunks = await this.encode(buffers);
    const offsets = tx.offsets;
    const group = offsets?.group;
    if (chunks.length === 0 && !offsets?.positions.length) return undefined;
    const run = this.commits.then(async (): Promise<CommitResult | undefined> => {
      const members = group ? [...this.members].filter((m) => m.group === group) : [];
      // Nothing of the group's members is let go while the commit is under way (KafkaJS
      // rejoins only once every batch is), so the partitions it covers stay theirs.
      for (const m of members) m.beginCommit();
      try {
        if (group) await this.confirmMembership(group);
        // The members as they stand now: which partitions they own, in which generation.
        const fence = members.map((m) => ({ member: m, joins: m.joins }));
        const positions = offsets ? this.ownPositions(offsets.group, offsets.positions) : [];
        const skipped = offsets ? offsets.positions.filter((p) => !positions.includes(p)) : [];
        const result = skipped.length > 0 ? { skipped } : undefined;
        if (chunks.length === 0 && positions.length === 0) return result;
        if (this.guarantee === "exactly-once") await this.commitTransaction(chunks, group, positions, fence);
        else await this.commitAtLeastOnce(chunks, group, positions);
        // The group's members release what the commit covers (KafkaJS may fetch, and rejoin, again).
        if (group && positions.length > 0) for (const m of members) m.noteCommitted(positions);
        return result;
      } finally {
        for (const m of members) m.endCommit();
      }
    });
    this.commits = run.catch(() => {});
    return run;
  }

  /** Closes every consumer this broker opened, then its producer and admin connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.members].map((m) => m.close()));
    this.closed = true;
    await this.commits;
    const clients = [this.producerClient, this.adminClient];
    this.producerClient = this.adminClient = undefined;
    await Promise.allSettled(
      clients.map(async (c) => {
        const client = await c?.catch(() => undefined);
        await client?.disconnect();
      }),
    );
  }

  private async commitTransaction(
    chunks: Chunk[],
    group: string | undefined,
    positions: readonly CommittedOffset[],
    fence: readonly Fence[],
  ): Promise<void> {
    const producer = await this.producer();
    let transaction: TransactionClient | undefined;
    let ending = false;
    try {
      transaction = await producer.transaction();
      for (const chunk of chunks) await transaction.sendBatch(chunk);
      if (group && positions.length > 0) {
        // The member's generation, when known, lets the group coordinator refuse the offsets
        // of a member that has left it (KIP-447; the platformatic writer sends it).
        const only = fence.length === 1 ? fence[0]!.member : undefined;
        const member =
          only?.generationId !== undefined && only.memberId !== undefined && only.joins === fence[0]!.joins
            ? { generationId: only.generationId, memberId: only.memberId }
            : undefined;
        try {
          await transaction.sendOffsets({
            consumerGroupId: group,
            topics: offsetTopics(positions),
            ...(member ? { member } : {}),
          });
        } catch (e) {
          const type = protocolType(e);
          if (type === "ILLEGAL_GENERATION" || type === "UNKNOWN_MEMBER_ID" || type === "FENCED_INSTANCE_ID")
            for (const { member: m } of fence)
              m.markLost(`the group refused the offsets of member ${m.memberId} (${type})`);
          throw e;
        }
        // Again just before the end: a pause within the transaction must not commit it either.
        await this.confirmMembership(group);
        this.confirmAssignment(group, fence);
      }
      ending = true;
      await transaction.commit();
    } catch (e) {
      const aborted = await transaction?.abort().then(
        () => true,
        () => false,
      );
      // A producer whose transaction could not be ended is replaced (its successor's
      // InitProducerId completes or aborts whatever it left open).
      if (!aborted) this.dropProducer();
      // A member the group gave up on fails as such (its transaction may have timed out).
      if (group && !(isRivuletError(e) && e.code === "PARTITIONS_LOST")) await this.confirmMembership(group);
      const err = brokerError(`commit failed${aborted ? " and was aborted" : ""}`, e);
      // The end of the transaction was sent and neither it nor an abort was confirmed: it may
      // have committed, so doing it again could write it twice. Not for the job to retry.
      if (ending && !aborted && err.retriable)
        throw new RivuletError("BROKER", `${err.message} (its outcome is unknown)`, { cause: e });
      throw err;
    }
    if (group && positions.length > 0) await this.visible(group, positions);
  }

  private async commitAtLeastOnce(
    chunks: Chunk[],
    group: string | undefined,
    positions: readonly CommittedOffset[],
  ): Promise<void> {
    const producer = await this.producer();
    try {
      for (const chunk of chunks) await producer.sendBatch({ ...chunk, acks: -1 });
    } catch (e) {
      throw brokerError("writing records failed", e);
    }
    if (!group || positions.length === 0) return;
    const members = [...this.members].filter((m) => m.group === group);
    if (members.length === 0)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `at-least-once: offsets of group "${group}" are committed by a consumer of that group, and this broker has none open`,
      );
    try {
      for (const m of members) {
        const own = positions.filter((p) => m.owns(p.topic, p.partition));
        if (own.length > 0) await m.commitOffsets(own);
      }
    } catch (e) {
      throw brokerError(`committing offsets of group "${group}" failed`, e);
    }
  }

  /**
   * Refuses a commit from a member the group has given up on (a pause past its session timeout:
   * a GC pause, a stopped process, a blocked event loop). Its partitions belong to others now,
   * which redo the work from the last commit; its own commit would move their offsets back.
   * KafkaJS's TxnOffsetCommit carries no generation (KIP-447; the platformatic writer sends the
   * member's once a heartbeat has confirmed it), so the check is ours as well: a member
   * the group listed in answer to a request sent less than half a session timeout ago cannot
   * have been expelled since (it keeps its partitions until it rejoins); otherwise the group's
   * member list is asked again.
   */
  private async confirmMembership(group: string): Promise<void> {
    for (const m of this.members) {
      if (m.group !== group) continue;
      if (m.lost() === undefined && Date.now() - m.confirmedAt > this.sessionTimeout / 2) {
        let listed: boolean;
        const sent = Date.now();
        try {
          const { groups } = await (await this.admin()).describeGroups([group]);
          listed = groups.some((g) => g.members.some((x) => x.memberId === m.memberId));
        } catch (e) {
          throw brokerError(`cannot confirm membership in group "${group}" before committing`, e);
        }
        if (listed) m.confirmedAt = sent;
        else m.markLost(`group "${group}" no longer lists member ${m.memberId} (its session expired)`);
      }
      const lost = m.lost();
      if (lost !== undefined)
        throw new RivuletError(
          "PARTITIONS_LOST",
          `not committed: ${lost}; its partitions belong to other members, which redo this work from the last commit`,
          { retriable: true },
        );
    }
  }

  /**
   * Refuses a commit that spans a join of one of the group's members: the group may have
   * moved the partitions it covers, and their new owner may have read their offsets already.
   * Nothing of it lands; the member reports its assignment lost, so the job goes back to its
   * last commit and restores what it owns now.
   */
  private confirmAssignment(group: string, fence: readonly Fence[]): void {
    for (const { member, joins } of fence) {
      if (member.joins === joins) continue;
      member.markLost(`member ${member.memberId} rejoined group "${group}" during a commit`);
      throw new RivuletError(
        "PARTITIONS_LOST",
        `not committed: member ${member.memberId} rejoined group "${group}" while committing; the partitions it covers may belong to others now`,
        { retriable: true },
      );
    }
  }

  /**
   * Offsets a live member of the group may commit: after a rebalance, partitions another member
   * took over are left alone (it may have moved them on already). A group with no member on this
   * broker (a tool, a test) commits as asked.
   */
  private ownPositions(group: string, positions: readonly CommittedOffset[]): CommittedOffset[] {
    const live = [...this.members].filter((m) => m.group === group);
    if (live.length === 0) return [...positions];
    return positions.filter((p) => live.some((m) => m.owns(p.topic, p.partition)));
  }

  /**
   * Records as produce requests of at most {@link CHUNK_BYTES}, made straight from the buffers'
   * columns: KafkaJS messages per topic, or for the platformatic writer a record batch per
   * topic-partition, encoded here ({@link RecordBatchBuilder}: no record object, header object or
   * message per output, though an at-least-once job's every output has a `rivulet.id`).
   */
  private async encode(buffers: readonly OutputBuffer[]): Promise<Chunk[]> {
    const platformatic = this.producerKind === "platformatic";
    const chunks: Chunk[] = [];
    let topics = new Map<string, Message[]>();
    let batches = new Map<string, RecordBatchBuilder>();
    let bytes = 0;
    const flush = () => {
      chunks.push(
        platformatic ? { batches: [...batches.values()] } : { topicMessages: toTopicMessages(topics) },
      );
      topics = new Map();
      batches = new Map();
      bytes = 0;
    };
    for (const out of buffers)
      for (let run = 0; run < out.runs; run++) {
        const topic = out.runTopic(run);
        const n = this.partitionCounts.get(topic) ?? (await this.partitions(topic));
        if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `topic "${topic}" does not exist`);
        const { keys, partitions, headers, ids, values, timestamps } = out;
        let list: Message[] | undefined;
        for (let i = out.runStart(run), end = out.runEnd(run); i < end; i++) {
          let partition = partitions?.[i];
          if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0 && partition < n))
            throw new RivuletError("INVALID_ARGUMENT", `topic "${topic}" has no partition ${partition}`);
          const key = keys?.[i] ?? null;
          const value = encodeValue(topic, values[i]);
          const ts = timestamps[i]!;
          const h = headers?.[i];
          const id = ids?.[i];
          let size = 64 + (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
          if (h !== undefined) for (const k in h) size += k.length + String(h[k]).length;
          if (id !== undefined) size += ID_HEADER.length + id.length;
          if (bytes > 0 && bytes + size > CHUNK_BYTES) {
            flush();
            list = undefined;
          }
          bytes += size;
          if (platformatic) {
            // @platformatic/kafka's own partitioner is not Java's: the partition is chosen here.
            partition ??= this.partitionOf(topic, key, n);
            // Straight into the partition's record batch: no message, header map or Buffer per record.
            const at = `${topic}\u0000${partition}`;
            let batch = batches.get(at);
            if (batch === undefined) batches.set(at, (batch = new RecordBatchBuilder(topic, partition)));
            batch.append(key, value, ts, h, id);
            continue;
          }
          const m: Message = { key, value };
          if (!Number.isNaN(ts)) m.timestamp = String(ts);
          const mh = out.headersAt(i);
          if (mh !== undefined) m.headers = mh;
          if (partition !== undefined) m.partition = partition;
          if (list === undefined) {
            list = topics.get(topic);
            if (list === undefined) topics.set(topic, (list = []));
          }
          list.push(m);
        }
      }
    if (bytes > 0) flush();
    return chunks;
  }

  /**
   * Waits until the group coordinator shows offsets a transaction just committed. The commit
   * returns before its markers are written, and KafkaJS's OffsetFetch has no `require_stable`:
   * without this, the next owner of a partition (after a rebalance or a restart) could read the
   * previous offsets and process records twice.
   */
  private async visible(group: string, positions: readonly CommittedOffset[]): Promise<void> {
    const admin = await this.admin();
    const topics = [...new Set(positions.map((p) => p.topic))];
    const deadline = Date.now() + 10_000;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const seen = new Map<string, number>();
      try {
        for (const t of await admin.fetchOffsets({ groupId: group, topics }))
          for (const p of t.partitions) seen.set(`${t.topic}\u0000${p.partition}`, Number(p.offset));
      } catch (e) {
        throw brokerError(`reading back the offsets of group "${group}" failed`, e);
      }
      if (positions.every((p) => (seen.get(`${p.topic}\u0000${p.partition}`) ?? -1) >= p.offset)) return;
      if (Date.now() > deadline)
        throw new RivuletError("BROKER", `committed offsets of group "${group}" did not become visible`, {
          retriable: true,
        });
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Java's partition for a keyed record (murmur2, as KafkaJS's default); keyless ones in turn. */
  private partitionOf(topic: string, key: string | null, partitions: number): number {
    if (key !== null) return partitionForKey(key, partitions);
    const next = this.nextPartition.get(topic) ?? 0;
    this.nextPartition.set(topic, (next + 1) % partitions);
    return next % partitions;
  }

  private async leave(member: KafkaConsumer, kc: { disconnect(): Promise<void> }): Promise<void> {
    this.members.delete(member);
    await kc.disconnect().catch(() => {});
  }

  private open(): void {
    if (this.closed) throw new RivuletError("BROKER", "the Kafka broker client is closed");
  }

  private admin(): Promise<Admin> {
    this.open();
    if (!this.adminClient) {
      const admin = this.kafka.admin({ retry: CLIENT_RETRY });
      this.adminClient = this.connect(admin, "admin").then(
        () => admin,
        (e) => {
          this.adminClient = undefined;
          throw e;
        },
      );
    }
    return this.adminClient;
  }

  private producer(): Promise<ProducerClient> {
    if (!this.producerClient) {
      const producer: ProducerClient =
        this.producerKind === "platformatic" ? this.platformaticProducer() : this.kafkajsProducer();
      this.producerClient = this.connect(producer, "producer").then(
        () => producer,
        (e) => {
          this.producerClient = undefined;
          throw e;
        },
      );
    }
    return this.producerClient;
  }

  private platformaticProducer(): ProducerClient {
    const o = this.options;
    return new PlatformaticProducer({
      brokers: o.brokers,
      clientId: o.clientId ?? "rivulet",
      ...(this.guarantee === "exactly-once" ? { transactionalId: this.transactionalId } : {}),
      transactionTimeout: 10_000,
      connectionTimeout: this.connectionTimeout,
      requestTimeout: o.requestTimeout ?? 30_000,
      ...(o.sasl === undefined ? {} : { sasl: o.sasl }),
      ...(o.ssl === undefined ? {} : { ssl: o.ssl }),
    });
  }

  private kafkajsProducer(): ProducerClient {
    const exactlyOnce = this.guarantee === "exactly-once";
    return this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: PRODUCER_RETRY,
      // A producer that dies mid-transaction blocks read_committed readers until the broker
      // aborts it (Kafka Streams' default: 10 s; KafkaJS's: 60 s). The same for platformatic.
      ...(exactlyOnce ? { transactionalId: this.transactionalId, transactionTimeout: 10_000 } : {}),
    });
  }

  private dropProducer(): void {
    const p = this.producerClient;
    this.producerClient = undefined;
    void p?.then((producer) => producer.disconnect()).catch(() => {});
  }

  /** Connects a KafkaJS client, failing with a clear error within the connection timeout. */
  private async connect(client: { connect(): Promise<void>; disconnect(): Promise<void> }, what: string) {
    const where = this.options.brokers.join(",");
    const ms = this.connectionTimeout;
    try {
      await withDeadline(
        client.connect(),
        ms,
        () =>
          new RivuletError("BROKER", `cannot reach Kafka at ${where} within ${ms} ms (${what})`, {
            retriable: true,
          }),
      );
    } catch (e) {
      void client.disconnect().catch(() => {});
      throw brokerError(`cannot connect to Kafka at ${where} (${what})`, e);
    }
  }
}

/** A member of a commit's group as it stood when the commit began. */
interface Fence {
  readonly member: KafkaConsumer;
  readonly joins: number;
}

/**
 * The producer when the options name none: `RIVULET_KAFKA_PRODUCER` (`kafkajs` or `platformatic`)
 * if set, so a deployment (or a test run) can switch every broker of its processes at once.
 */
function defaultProducer(): "kafkajs" | "platformatic" {
  const env = process.env.RIVULET_KAFKA_PRODUCER;
  if (env === undefined || env === "") return "kafkajs";
  if (env === "kafkajs" || env === "platformatic") return env;
  throw new RivuletError(
    "INVALID_ARGUMENT",
    `RIVULET_KAFKA_PRODUCER must be "kafkajs" or "platformatic", not "${env}"`,
  );
}

/** A checkpoint riding in a commit: its companion store (a `KafkaChangelogStore`) says as what records. */
function checkpointRecords(c: NonNullable<Transaction["checkpoint"]>): OutgoingRecord[] {
  const store = c.store as { records?: (checkpoint: typeof c.checkpoint) => OutgoingRecord[] };
  if (typeof store.records !== "function")
    throw new RivuletError(
      "INVALID_ARGUMENT",
      "a Kafka commit can carry the checkpoints of a KafkaChangelogStore only (its commitsWith says so)",
    );
  return store.records(c.checkpoint);
}

/** Bytes and strings as they are, `null`/`undefined` as a tombstone, anything else as JSON. */
function encodeValue(topic: string, value: unknown): Buffer | string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new RivuletError("INVALID_ARGUMENT", `a value for topic "${topic}" cannot be written as JSON`, {
      cause: e,
    });
  }
  if (json === undefined)
    throw new RivuletError("INVALID_ARGUMENT", `a value for topic "${topic}" cannot be written as JSON`);
  return json;
}

function toTopicMessages(chunk: Map<string, Message[]>): TopicMessages[] {
  return [...chunk].map(([topic, messages]) => ({ topic, messages }));
}

/** Offsets grouped by topic for `sendOffsets`; KafkaJS passes `metadata` through to TxnOffsetCommit. */
function offsetTopics(positions: readonly CommittedOffset[]) {
  const byTopic = new Map<string, (PartitionOffset & { metadata: string | null })[]>();
  for (const p of positions) {
    const entry = { partition: p.partition, offset: String(p.offset), metadata: p.metadata ?? null };
    const list = byTopic.get(p.topic);
    if (list) list.push(entry);
    else byTopic.set(p.topic, [entry]);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * KafkaJS's console logger, except that errors it retries by itself (a protocol error in a
 * response, a failed attempt with a retry scheduled) are logged at debug: what is left of them
 * reaches the caller as a `RivuletError`.
 */
const quietRetries: logCreator = (configured) => {
  return ({ namespace, level, label, log }) => {
    const { message, ...extra } = log;
    const retried = (namespace === "Connection" && message.startsWith("Response ")) || "retryCount" in extra;
    if (retried && configured < KafkaLogLevels.DEBUG) return;
    const line = JSON.stringify({
      level: retried ? "DEBUG" : label,
      ...extra,
      message: `[${namespace}] ${message}`,
    });
    if (retried || level >= KafkaLogLevels.INFO) console.log(line);
    else if (level === KafkaLogLevels.WARN) console.warn(line);
    else console.error(line);
  };
};
