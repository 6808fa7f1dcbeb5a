/**
 * The proxy's Kafka clients: one KafkaJS `Kafka` (from `brokers` or a whole KafkaJS config), an
 * admin client and an idempotent producer shared by every request (connected on first use,
 * dropped and made again after a failure), and a consumer per consumer instance. The producer is
 * KafkaJS's, or with `producer: "platformatic"` @platformatic/kafka's (an optional peer
 * dependency), which encodes produce requests in a fraction of KafkaJS's CPU time (headers
 * especially: KafkaJS allocates a 512-byte buffer per header). Nothing here ever creates a
 * topic: produce and metadata requests for a missing topic are answered 404.
 *
 * @example
 * const clients = new KafkaClients({ brokers: ["127.0.0.1:9092"] });
 * const admin = await clients.admin();
 * await clients.close();
 *
 * @module
 */
import type { Admin, KafkaConfig, logCreator, Message, Producer, RecordMetadata } from "kafkajs";
import { RivuletError } from "../../../core/index.js";
import { withDeadline } from "../kafka-errors.js";
import { Kafka, logLevel as Levels, Partitioners } from "../kafkajs.js";
import { PlatformaticProducer } from "../platformatic-producer.js";

export type ProxyLogLevel = "nothing" | "error" | "warn" | "info" | "debug";

export interface KafkaClientOptions {
  /** Bootstrap servers, `host:port`. */
  brokers?: readonly string[];
  /** A whole KafkaJS config instead (SSL, SASL, ...); `brokers` must then be left out. */
  kafka?: KafkaConfig;
  /** Client id (default `rivulet-rest-proxy`). */
  clientId?: string;
  /** KafkaJS log level (default `warn`); protocol errors answered to clients are not logged. */
  logLevel?: ProxyLogLevel;
  /** SASL authentication, with `brokers` (a `kafka` config carries its own). */
  sasl?: KafkaConfig["sasl"];
  /** TLS, with `brokers`: `true` or Node's TLS options (`ca`, `cert`, `key`). */
  ssl?: KafkaConfig["ssl"];
  /**
   * The client that writes (default `kafkajs`, or the environment variable
   * `RIVULET_KAFKA_PRODUCER`): `platformatic` is @platformatic/kafka (`npm install
   * @platformatic/kafka`), with `brokers` only; SASL plain and SCRAM.
   */
  producer?: "kafkajs" | "platformatic";
}

/** What produce requests need of a producer: one send of placed messages, acknowledged by all in-sync replicas. */
export interface ProxyProducer {
  /** Writes messages (each with its partition) to `topic`; the offset of the first written to each partition. */
  send(topic: string, messages: Message[]): Promise<Map<number, number>>;
  disconnect(): Promise<void>;
}

const LEVELS: Record<ProxyLogLevel, number> = {
  nothing: Levels.NOTHING,
  error: Levels.ERROR,
  warn: Levels.WARN,
  info: Levels.INFO,
  debug: Levels.DEBUG,
};

/**
 * KafkaJS's logs as JSON lines on stderr, except that protocol errors in responses and attempts
 * KafkaJS retries by itself are debug: a 404 for a missing topic is the client's answer, not a
 * server log line.
 */
const proxyLogs: logCreator = (configured) => {
  return ({ namespace, label, log }) => {
    const { message, ...extra } = log;
    const routine =
      (namespace === "Connection" && message.startsWith("Response ")) ||
      "retryCount" in extra ||
      // Bounded on purpose: a produce request must end, and a failed one drops its producer.
      message.startsWith("Limiting retries for the idempotent producer");
    if (routine && configured < Levels.DEBUG) return;
    process.stderr.write(
      `${JSON.stringify({ level: routine ? "DEBUG" : label, ...extra, message: `[${namespace}] ${message}` })}\n`,
    );
  };
};

export class KafkaClients {
  readonly kafka: Kafka;
  readonly where: string;
  private adminClient: Promise<Admin> | undefined;
  private producerClient: Promise<ProxyProducer> | undefined;
  private closed = false;
  private readonly producerKind: "kafkajs" | "platformatic";
  private readonly options: KafkaClientOptions;

  constructor(options: KafkaClientOptions) {
    const { brokers, kafka } = options;
    if ((brokers === undefined) === (kafka === undefined))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        "restProxy needs either { brokers: ['host:port', ...] } or { kafka: <a KafkaJS config> }",
      );
    if (brokers !== undefined && (!Array.isArray(brokers) || brokers.length === 0))
      throw new RivuletError("INVALID_ARGUMENT", "restProxy: brokers must list at least one host:port");
    if (kafka !== undefined && (options.sasl !== undefined || options.ssl !== undefined))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        "restProxy: sasl and ssl go with brokers; a whole KafkaJS config (kafka) carries its own",
      );
    this.options = options;
    const kind = options.producer ?? process.env.RIVULET_KAFKA_PRODUCER ?? "kafkajs";
    if (kind !== "kafkajs" && kind !== "platformatic")
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `restProxy: producer must be "kafkajs" or "platformatic", not "${kind}"`,
      );
    if (kind === "platformatic" && brokers === undefined)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        'restProxy: producer "platformatic" takes brokers (and sasl, ssl), not a whole KafkaJS config',
      );
    this.producerKind = kind;
    const level = LEVELS[options.logLevel ?? "warn"];
    if (level === undefined)
      throw new RivuletError("INVALID_ARGUMENT", `unknown log level "${options.logLevel}"`);
    const config: KafkaConfig = kafka
      ? { logLevel: level, logCreator: proxyLogs, ...kafka }
      : {
          brokers: [...brokers!],
          clientId: options.clientId ?? "rivulet-rest-proxy",
          connectionTimeout: 10_000,
          requestTimeout: 30_000,
          retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
          logLevel: level,
          logCreator: proxyLogs,
          ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
          ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
        };
    this.where = Array.isArray(config.brokers) ? config.brokers.join(",") : "the configured brokers";
    this.kafka = new Kafka(config);
  }

  admin(): Promise<Admin> {
    this.open();
    if (!this.adminClient) {
      const admin = this.kafka.admin();
      this.adminClient = this.connect(admin).then(
        () => admin,
        (e) => {
          this.adminClient = undefined;
          throw e;
        },
      );
    }
    return this.adminClient;
  }

  producer(): Promise<ProxyProducer> {
    this.open();
    if (!this.producerClient) {
      const producer = this.producerKind === "platformatic" ? this.platformatic() : this.kafkajs();
      this.producerClient = this.connect(producer).then(
        () => producer,
        (e) => {
          this.producerClient = undefined;
          throw e;
        },
      );
    }
    return this.producerClient;
  }

  private kafkajs(): ProxyProducer & { connect(): Promise<void> } {
    const producer: Producer = this.kafka.producer({
      // Partitions are chosen before sending (producer.ts), with this same partitioner.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 50, maxRetryTime: 2_000, retries: 8 },
    });
    return {
      connect: () => producer.connect(),
      disconnect: () => producer.disconnect(),
      send: async (topic, messages) => baseOffsets(await producer.send({ topic, messages, acks: -1 })),
    };
  }

  private platformatic(): ProxyProducer & { connect(): Promise<void> } {
    const o = this.options;
    const producer = new PlatformaticProducer({
      brokers: [...o.brokers!],
      clientId: o.clientId ?? "rivulet-rest-proxy",
      // Not transactional: InitProducerId's timeout only.
      transactionTimeout: 60_000,
      connectionTimeout: 10_000,
      requestTimeout: 30_000,
      ...(o.sasl === undefined ? {} : { sasl: o.sasl }),
      ...(o.ssl === undefined ? {} : { ssl: o.ssl }),
    });
    return {
      connect: () => producer.connect(),
      disconnect: () => producer.disconnect(),
      send: async (topic, messages) => {
        const result = (await producer.sendBatch({ topicMessages: [{ topic, messages }] })) as {
          offsets?: { topic: string; partition: number; offset: bigint | number }[];
        };
        const base = new Map<number, number>();
        for (const r of result.offsets ?? []) if (r.topic === topic) base.set(r.partition, Number(r.offset));
        return base;
      },
    };
  }

  /**
   * Drops the producer after a failed send: its successor gets a new producer id, so sequence
   * numbers a failure left in doubt cannot fail later requests.
   */
  dropProducer(): void {
    const p = this.producerClient;
    this.producerClient = undefined;
    void p?.then((producer) => producer.disconnect()).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [this.adminClient, this.producerClient];
    this.adminClient = this.producerClient = undefined;
    await Promise.allSettled(
      clients.map(async (c) => {
        const client = await c?.catch(() => undefined);
        await client?.disconnect();
      }),
    );
  }

  private open(): void {
    if (this.closed) throw new RivuletError("BROKER", "the REST proxy is closed");
  }

  private async connect(client: { connect(): Promise<void>; disconnect(): Promise<void> }): Promise<void> {
    try {
      await withDeadline(
        client.connect(),
        10_000,
        () =>
          new RivuletError("BROKER", `cannot reach Kafka at ${this.where} within 10 s`, { retriable: true }),
      );
    } catch (e) {
      void client.disconnect().catch(() => {});
      throw e;
    }
  }
}

/** The offset of the first record written to each partition, from KafkaJS's answer. */
function baseOffsets(result: RecordMetadata[]): Map<number, number> {
  const base = new Map<number, number>();
  for (const r of result) base.set(r.partition, Number(r.baseOffset ?? r.offset));
  return base;
}
