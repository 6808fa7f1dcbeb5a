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
import { RivuletError } from "../../core/index.js";
import { isRetriable, protocolType } from "./kafka-errors.js";
import { RecordBatchBuilder } from "./record-batch.js";

type Plt = typeof Platformatic;
type PltProducer = Platformatic.Producer;
type PltTransaction = Awaited<ReturnType<PltProducer["beginTransaction"]>>;
/** A record as @platformatic/kafka produces it (KafkaJS-shaped records of the REST proxy). */
type PltMessage = Platformatic.MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/**
 * One produce request's records: KafkaJS messages per topic, or, for a {@link PlatformaticProducer}
 * only, record batches already encoded, one per topic-partition (what `KafkaBroker` makes for it
 * straight from its output buffer).
 */
export type Chunk =
  | { topicMessages: TopicMessages[]; batches?: undefined }
  | { batches: RecordBatchBuilder[]; topicMessages?: undefined };

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
  if (batch.batches !== undefined)
    // A message per batch, which the package hands through to the Produce API unchanged (the
    // serializers are the identity, the partition is set): see `batchProduce`.
    return batch.batches.map((b) => ({
      topic: b.topic,
      partition: b.partition,
      value: b as unknown as Buffer,
    }));
  return toMessages(batch.topicMessages);
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
    useBatchProduce(plt, this.producer);
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

type Callback<T> = (error: Error | null, result?: T) => void;
/** What the package passes its Produce API: the messages of one request to one broker. */
type Produce = (
  connection: Platformatic.Connection,
  acks: number,
  timeout: number,
  messages: { value?: unknown }[],
  options: { producerId?: bigint; producerEpoch?: number; sequences?: unknown; transactionalId?: string },
  callback: Callback<unknown>,
) => void;
type ProduceApi = Produce & { version: number };
/** The next sequence of each partition, for the producer id and epoch they count under. */
type Sequences = { producerId: bigint; producerEpoch: number; next: Map<string, number> };

/**
 * Lets `producer` send {@link RecordBatchBuilder}s: its Produce API (the version the broker
 * and the package agree on) is wrapped so that a request whose messages are batches is written
 * here, each batch as it is, instead of by the package's record encoder. Everything around the
 * request stays the package's: metadata, leaders, connections, retries, the producer id and
 * epoch, transactions (AddPartitionsToTxn from the messages' partitions), errors and fencing.
 *
 * Sequences: the package counts a batch as one message, so they are kept here, per partition,
 * for the producer id and epoch the request is sent with (a new id or epoch starts them again
 * at 0, as the broker expects). A batch keeps the sequence it was first given while it is sent
 * again (a retry), and the partition's next sequence moves past it once the broker has taken it.
 * KafkaBroker sends one request at a time, so a partition never has two batches in flight.
 */
function useBatchProduce(plt: Plt, producer: PltProducer): void {
  const kGetApi = plt.kGetApi as unknown as symbol;
  const target = producer as unknown as Record<symbol, (name: string, cb: Callback<ProduceApi>) => void>;
  const base = target[kGetApi]!.bind(producer);
  const wrapped = new Map<ProduceApi, ProduceApi>();
  const sequences: Sequences = { producerId: -2n, producerEpoch: -2, next: new Map() };
  target[kGetApi] = (name, cb) => {
    if (name !== "Produce") return base(name, cb);
    base(name, (error, api) => {
      if (error || !api) return cb(error);
      let w = wrapped.get(api);
      if (!w) wrapped.set(api, (w = batchProduce(plt, api, sequences)));
      cb(null, w);
    });
  };
}

function batchProduce(plt: Plt, api: ProduceApi, seq: Sequences): ProduceApi {
  const version = api.version;
  // Produce v9 and later are "flexible": compact strings and arrays, tagged fields.
  const flexible = version >= 9;
  const parse = (plt as unknown as Record<string, { parseResponse: unknown }>)[`produceV${version}`]
    ?.parseResponse;
  const produce: Produce = (connection, acks, timeout, messages, options, callback) => {
    if (!(messages[0]?.value instanceof RecordBatchBuilder)) {
      api(connection, acks, timeout, messages, options, callback);
      return;
    }
    // Batches must never reach the package's encoder (it would write the objects as bytes).
    if (parse === undefined) {
      callback(new RivuletError("BROKER", `@platformatic/kafka has no Produce v${version} response parser`));
      return;
    }
    const batches = messages.map((m) => m.value as RecordBatchBuilder);
    const idempotent = options.sequences !== undefined;
    const producerId = idempotent ? (options.producerId ?? -1n) : -1n;
    const producerEpoch = idempotent ? (options.producerEpoch ?? -1) : -1;
    if (idempotent && (seq.producerId !== producerId || seq.producerEpoch !== producerEpoch)) {
      seq.producerId = producerId;
      seq.producerEpoch = producerEpoch;
      seq.next.clear();
    }
    const sequenceOf = (b: RecordBatchBuilder): number => {
      if (!idempotent) return -1;
      const s = b.sequence;
      if (s && s.producerId === producerId && s.producerEpoch === producerEpoch) return s.base;
      const base = seq.next.get(`${b.topic}:${b.partition}`) ?? 0;
      b.sequence = { producerId, producerEpoch, base };
      return base;
    };
    const byTopic = new Map<string, RecordBatchBuilder[]>();
    for (const b of batches) {
      const list = byTopic.get(b.topic);
      if (list) list.push(b);
      else byTopic.set(b.topic, [b]);
    }
    const transactional = options.transactionalId !== undefined;
    const request = () => {
      const w = plt.Writer.create()
        .appendString(options.transactionalId ?? null, flexible)
        .appendInt16(acks)
        .appendInt32(timeout)
        .appendArray(
          [...byTopic],
          (w, [topic, list]) => {
            w.appendString(topic, flexible).appendArray(
              list,
              (w, b) => {
                const bytes = b.seal(
                  { producerId, producerEpoch, baseSequence: sequenceOf(b), transactional },
                  plt.crc32c as (data: Uint8Array) => number,
                );
                w.appendInt32(b.partition);
                if (flexible) w.appendUnsignedVarInt(bytes.length + 1);
                else w.appendInt32(bytes.length);
                w.append(bytes);
              },
              flexible,
              flexible,
            );
          },
          flexible,
          flexible,
        );
      if (flexible) w.appendTaggedFields();
      return w;
    };
    connection.send(
      0,
      version,
      request,
      parse as never,
      flexible,
      flexible,
      (error: Error | null, result: unknown) => {
        if (!error && idempotent && seq.producerId === producerId && seq.producerEpoch === producerEpoch)
          for (const b of batches) {
            const key = `${b.topic}:${b.partition}`;
            const base = b.sequence!.base;
            // Once per batch: a retry the broker answered as a duplicate must not move it twice.
            if ((seq.next.get(key) ?? 0) === base) seq.next.set(key, (base + b.count) % 2 ** 31);
          }
        callback(error, result);
      },
    );
  };
  return Object.assign(produce, { version });
}
