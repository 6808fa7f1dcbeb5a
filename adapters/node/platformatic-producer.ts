/**
 * The writing half of {@link KafkaBroker} on `@platformatic/kafka` instead of KafkaJS
 * (`new KafkaBroker({ producer: "platformatic" })`). KafkaJS spends most of a consume-transform-
 * produce loop's CPU encoding produce requests (a copy of every message, a quadratic grouping per
 * partition, varints through `Long`); @platformatic/kafka encodes a record batch in a fraction of
 * that (bench/README.md, "Kafka end to end"). Consumers and the admin client stay on KafkaJS.
 *
 * It offers the part of KafkaJS's `Producer` the broker uses (`sendBatch`, `transaction()` with
 * `sendBatch`, `sendOffsets`, `commit`, `abort`), so the broker's commit protocol, its fencing
 * and its error handling are the same for both clients. Offsets go into the transaction with
 * their metadata (the checkpoint id), as KafkaJS sends them: @platformatic/kafka's own
 * `addOffset` has no metadata, so the TxnOffsetCommit request is sent here, to the group's
 * coordinator, through the package's protocol API.
 *
 * @example
 * const broker = new KafkaBroker({ brokers: ["127.0.0.1:9092"], producer: "platformatic" });
 *
 * @module
 */
import type * as Platformatic from "@platformatic/kafka";
import type { IHeaders, KafkaConfig, Message, TopicMessages } from "kafkajs";
import { ID_HEADER, type Headers as RecordHeaders, RivuletError } from "../../core/index.js";
import { isRetriable, protocolType } from "./kafka-errors.js";

type Plt = typeof Platformatic;
type PltProducer = Platformatic.Producer;
type PltTransaction = Awaited<ReturnType<PltProducer["beginTransaction"]>>;
/** A record as @platformatic/kafka produces it. */
export type PltMessage = Platformatic.MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/**
 * One produce request's records: KafkaJS messages per topic, or, for a {@link PlatformaticProducer}
 * only, its own messages (what `KafkaBroker` makes for it straight from its output buffer).
 */
export type Chunk =
  | { topicMessages: TopicMessages[]; messages?: undefined }
  | { messages: PltMessage[]; topicMessages?: undefined };

let loaded: Promise<Plt> | undefined;

/** Loads @platformatic/kafka (an optional peer dependency) once, with the command that installs it. */
function platformatic(): Promise<Plt> {
  loaded ??= import("@platformatic/kafka").catch((e: unknown) => {
    loaded = undefined;
    const missing =
      (e as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && /@platformatic\/kafka/.test(String(e));
    if (!missing) throw e;
    throw new RivuletError(
      "INVALID_ARGUMENT",
      'KafkaBroker({ producer: "platformatic" }) needs the package "@platformatic/kafka": npm install @platformatic/kafka',
      { cause: e },
    );
  }) as Promise<Plt>;
  return loaded;
}

/** What KafkaBroker needs of a producer: the part of KafkaJS's `Producer` it uses. */
export interface ProducerClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(batch: Chunk & { acks?: number }): Promise<unknown>;
  transaction(): Promise<TransactionClient>;
}

export interface TransactionClient {
  sendBatch(batch: Chunk): Promise<unknown>;
  /**
   * With `member`, the group coordinator accepts the offsets only from that member in that
   * generation (KIP-447): a member the group has moved on without cannot commit. KafkaJS's
   * TxnOffsetCommit has no such fields and ignores it.
   */
  sendOffsets(offsets: {
    consumerGroupId: string;
    topics: OffsetTopic[];
    member?: GroupMember;
  }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A consumer group member as the group knows it: its id and the generation it is in. */
export interface GroupMember {
  generationId: number;
  memberId: string;
}

/** Errors by which the group coordinator refuses a member's offsets: trying again cannot help. */
const FENCED = new Set(["ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"]);

interface OffsetTopic {
  topic: string;
  partitions: { partition: number; offset: string; metadata?: string | null }[];
}

export interface PlatformaticProducerOptions {
  brokers: string[];
  clientId: string;
  /** Set for exactly-once: the producer's transactions are fenced by this id. */
  transactionalId?: string;
  /** Transaction timeout (ms): how long a transaction left open by a dead producer holds readers. */
  transactionTimeout: number;
  connectionTimeout: number;
  requestTimeout: number;
  sasl?: KafkaConfig["sasl"];
  ssl?: KafkaConfig["ssl"];
}

/** Tries of one request that failed with a retriable error (a coordinator moving, CONCURRENT_TRANSACTIONS). */
const RETRIES = 10;
const retryDelay = (attempt: number) => Math.min(1_000, 20 * 2 ** attempt);

/** A `host:port` string as @platformatic/kafka's broker address. */
function address(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(":");
  if (at <= 0) throw new RivuletError("INVALID_ARGUMENT", `broker address "${hostPort}" is not host:port`);
  return { host: hostPort.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(hostPort.slice(at + 1)) };
}

/** KafkaJS's SASL and TLS options as @platformatic/kafka's connection options. */
function connectionOptions(o: PlatformaticProducerOptions): Platformatic.ConnectionOptions {
  const out: Platformatic.ConnectionOptions = {
    connectTimeout: o.connectionTimeout,
    requestTimeout: o.requestTimeout,
  };
  if (o.ssl) out.tls = o.ssl === true ? {} : o.ssl;
  if (o.sasl) {
    const s = o.sasl as { mechanism: string; username?: string; password?: string };
    const mechanism = { plain: "PLAIN", "scram-sha-256": "SCRAM-SHA-256", "scram-sha-512": "SCRAM-SHA-512" }[
      s.mechanism
    ];
    if (!mechanism)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `KafkaBroker({ producer: "platformatic" }) supports SASL plain, scram-sha-256 and scram-sha-512, not ${s.mechanism}`,
      );
    out.sasl = { mechanism, username: s.username, password: s.password } as Platformatic.SASLOptions;
  }
  return out;
}

/** Header names as bytes, encoded once: a job's records carry the same few (`rivulet.id`, ...). */
const headerNames = new Map<string, Buffer>();

function headerName(key: string): Buffer {
  let b = headerNames.get(key);
  if (b === undefined) {
    if (headerNames.size >= 1_000) headerNames.clear();
    b = Buffer.from(key);
    headerNames.set(key, b);
  }
  return b;
}

/** A header value of KafkaJS's shape (string, bytes, or a list of them) as entries. */
function addHeader(into: Map<Buffer, Buffer>, key: string, value: IHeaders[string]): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    // Repeated names need keys of their own: the map is keyed by the buffer's identity.
    for (const v of value) into.set(Buffer.from(key), typeof v === "string" ? Buffer.from(v) : v);
    return;
  }
  into.set(headerName(key), typeof value === "string" ? Buffer.from(value) : value);
}

function messagesOf(batch: Chunk): PltMessage[] {
  return batch.messages ?? toMessages(batch.topicMessages);
}

/** The id header's name, as bytes. */
const ID_NAME = Buffer.from(ID_HEADER);

/**
 * A record as @platformatic/kafka's message, its value already encoded (a string is written as
 * UTF-8); `timestamp` NaN: the broker's clock. `id` is its `rivulet.id`, put into the headers as
 * bytes without a header object in between (it replaces a header of that name in `headers`).
 */
export function platformaticMessage(
  topic: string,
  partition: number,
  key: string | null,
  value: Buffer | string | null,
  timestamp: number,
  headers: RecordHeaders | undefined,
  id: string | undefined,
): PltMessage {
  const m: PltMessage = {
    topic,
    partition,
    // null is a tombstone (a record without a value).
    value: (value === null ? null : typeof value === "string" ? Buffer.from(value) : value) as Buffer,
  };
  if (key !== null) m.key = Buffer.from(key);
  if (!Number.isNaN(timestamp)) m.timestamp = BigInt(timestamp);
  if (headers !== undefined || id !== undefined) {
    const map = new Map<Buffer, Buffer>();
    if (headers !== undefined)
      for (const k in headers) if (id === undefined || k !== ID_HEADER) addHeader(map, k, headers[k]);
    if (id !== undefined) map.set(ID_NAME, Buffer.from(id));
    if (map.size > 0) m.headers = map;
  }
  return m;
}

/** KafkaJS messages (every one with its partition set) as @platformatic/kafka's. */
function toMessages(topicMessages: readonly TopicMessages[]): PltMessage[] {
  const out: PltMessage[] = [];
  for (const { topic, messages } of topicMessages)
    for (const m of messages as Message[]) {
      if (m.partition === undefined)
        throw new RivuletError("INVALID_ARGUMENT", `a record for topic "${topic}" has no partition`);
      const key = m.key;
      const value = m.value;
      const pm: PltMessage = {
        topic,
        partition: m.partition,
        // null is a tombstone (a record without a value).
        value: (value === null ? null : typeof value === "string" ? Buffer.from(value) : value) as Buffer,
      };
      if (key !== null && key !== undefined) pm.key = typeof key === "string" ? Buffer.from(key) : key;
      if (m.timestamp !== undefined) pm.timestamp = BigInt(m.timestamp);
      if (m.headers) {
        const headers = new Map<Buffer, Buffer>();
        for (const k in m.headers) addHeader(headers, k, m.headers[k]);
        if (headers.size > 0) pm.headers = headers;
      }
      out.push(pm);
    }
  return out;
}

/**
 * A transactional (exactly-once) or idempotent (at-least-once) producer on @platformatic/kafka,
 * shaped as {@link ProducerClient}.
 */
export class PlatformaticProducer implements ProducerClient {
  private producer: PltProducer | undefined;
  private pool: Platformatic.ConnectionPool | undefined;
  /** The group coordinator of each group offsets were sent for (asked again when it moves). */
  private readonly coordinators = new Map<string, { host: string; port: number }>();
  private plt: Plt | undefined;

  constructor(private readonly options: PlatformaticProducerOptions) {}

  async connect(): Promise<void> {
    const plt = (this.plt = await platformatic());
    const o = this.options;
    const conn = connectionOptions(o);
    this.producer = new plt.Producer({
      clientId: o.clientId,
      bootstrapBrokers: o.brokers,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      // InitProducerId takes the client's timeout as the transaction timeout.
      timeout: o.transactionTimeout,
      // InitProducerId as a new producer (-1, -1), not as producer 0 at epoch 0 (the package's
      // default): the broker answers the latter with PRODUCER_FENCED when an earlier producer
      // of the same transactional id (a killed process) left its epoch higher.
      producerId: -1n,
      producerEpoch: -1,
      retries: RETRIES,
      retryDelay: (_client, _op, attempt) => retryDelay(attempt),
      ...(o.transactionalId === undefined ? {} : { transactionalId: o.transactionalId }),
      ...conn,
    });
    // Connects (and, for a transactional id, fences the id's previous producer) now, not at the
    // first commit: a wrong address or credentials fail here, within the connection timeout.
    await this.producer.metadata({ topics: [] });
  }

  async disconnect(): Promise<void> {
    const p = this.producer;
    const pool = this.pool;
    this.producer = this.pool = undefined;
    await Promise.allSettled([p?.close(true), pool?.close()]);
  }

  async sendBatch(batch: Chunk): Promise<unknown> {
    return this.live().send({ messages: messagesOf(batch) });
  }

  async transaction(): Promise<TransactionClient> {
    const producer = this.live();
    const tx: PltTransaction = await producer.beginTransaction();
    return {
      sendBatch: (batch) => tx.send({ messages: messagesOf(batch) }),
      sendOffsets: async ({ consumerGroupId, topics, member }) => {
        // AddOffsetsToTxn: the transaction coordinator adds the group's offsets partition.
        await tx.addConsumer({ groupId: consumerGroupId } as unknown as Platformatic.Consumer);
        await this.txnOffsetCommit(producer, consumerGroupId, topics, member);
      },
      commit: () => tx.commit(),
      abort: () => tx.abort(),
    };
  }

  /**
   * TxnOffsetCommit to the group's coordinator, metadata included, retried while it moves. With
   * the member's id and generation, the coordinator refuses the offsets (ILLEGAL_GENERATION,
   * UNKNOWN_MEMBER_ID) once the group has moved on without it; without them (a generation not
   * confirmed yet), it does not check, and KafkaBroker's own checks are all there is.
   */
  private async txnOffsetCommit(
    producer: PltProducer,
    group: string,
    topics: OffsetTopic[],
    member: GroupMember | undefined,
  ): Promise<void> {
    const plt = this.plt as Plt;
    const request = topics.map((t) => ({
      name: t.topic,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: BigInt(p.offset),
        committedLeaderEpoch: -1,
        committedMetadata: p.metadata ?? null,
      })),
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        const connection = await this.coordinator(group);
        const producerId = producer.producerId;
        const epoch = producer.producerEpoch;
        if (producerId === undefined || epoch === undefined)
          throw new RivuletError("BROKER", "the transactional producer has no producer id");
        await plt.txnOffsetCommitV3.api.async(
          connection,
          this.options.transactionalId as string,
          group,
          producerId,
          epoch,
          member?.generationId ?? -1,
          member?.memberId ?? "",
          null,
          request,
        );
        return;
      } catch (e) {
        this.coordinators.delete(group);
        const type = protocolType(e);
        if (attempt >= RETRIES || !isRetriable(e) || (type !== undefined && FENCED.has(type))) throw e;
        await new Promise((r) => setTimeout(r, retryDelay(attempt)));
      }
    }
  }

  /** A connection to the coordinator of `group`, found through any bootstrap broker. */
  private async coordinator(group: string): Promise<Platformatic.Connection> {
    const plt = this.plt as Plt;
    this.pool ??= new plt.ConnectionPool(`${this.options.clientId}-offsets`, connectionOptions(this.options));
    let where = this.coordinators.get(group);
    if (!where) {
      const any = await this.pool.getFirstAvailable(this.options.brokers.map(address));
      const { coordinators } = await plt.findCoordinatorV4.api.async(any, 0, [group]);
      const c = coordinators.find((x) => x.key === group);
      if (!c) throw new RivuletError("BROKER", `no coordinator for group "${group}"`, { retriable: true });
      where = { host: c.host, port: c.port };
      this.coordinators.set(group, where);
    }
    return this.pool.get(where);
  }

  private live(): PltProducer {
    if (!this.producer) throw new RivuletError("BROKER", "the producer is closed");
    return this.producer;
  }
}
