/**
 * Topic, partition and broker metadata through KafkaJS's admin client, in the v2 API's shapes.
 * Topics known to exist are cached for a few seconds (produce requests need their partitions and
 * `max.message.bytes`); a missing topic is never cached and never created.
 *
 * @example
 * const meta = new Metadata(clients);
 * const topic = await meta.topic("clicks");   // { name, partitions, maxMessageBytes } or a 404 (40401)
 *
 * @module
 */
import type { ConfigResourceTypes, PartitionMetadata } from "kafkajs";
import { topicNameProblem } from "../../../core/index.js";
import { protocolType } from "../kafka-errors.js";
import { kafkaError, proxyErrors } from "./errors.js";
import type { KafkaClients } from "./kafka-clients.js";

export interface TopicInfo {
  name: string;
  partitions: PartitionMetadata[];
  /** The topic's `max.message.bytes`: the largest record batch Kafka takes. */
  maxMessageBytes: number;
}

/** A partition as v2 describes it. */
export interface PartitionView {
  partition: number;
  leader: number;
  replicas: { broker: number; leader: boolean; in_sync: boolean }[];
}

/** Kafka's own topics, left out of `GET /topics` as Confluent's proxy does. */
const INTERNAL = new Set(["__consumer_offsets", "__transaction_state", "__share_group_state"]);
const TOPIC: ConfigResourceTypes = 2 as ConfigResourceTypes; // ConfigResourceTypes.TOPIC
const CACHE_MS = 5_000;
/** Kafka's default `max.message.bytes` (1 MiB + 12 bytes of batch overhead). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

export class Metadata {
  private readonly cache = new Map<string, { at: number; info: TopicInfo }>();

  constructor(private readonly clients: KafkaClients) {}

  /** Names of the topics (not Kafka's internal ones), sorted. */
  async topicNames(): Promise<string[]> {
    const admin = await this.call("listing topics", () => this.clients.admin());
    const names = await this.call("listing topics", () => admin.listTopics());
    return names.filter((n) => !INTERNAL.has(n)).sort();
  }

  /** A topic's partitions and limits; 400 (40002) for a name Kafka rejects, 404 (40401) when missing. */
  async topic(name: string, { fresh = false } = {}): Promise<TopicInfo> {
    const problem = topicNameProblem(name);
    if (problem) throw proxyErrors.invalidTopic(problem);
    const cached = this.cache.get(name);
    if (!fresh && cached && Date.now() - cached.at < CACHE_MS) return cached.info;
    const admin = await this.call(`reading topic "${name}"`, () => this.clients.admin());
    let partitions: PartitionMetadata[];
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
      partitions = topics.find((t) => t.name === name)?.partitions ?? [];
    } catch (e) {
      if (protocolType(e) === "UNKNOWN_TOPIC_OR_PARTITION") throw proxyErrors.topicNotFound(name);
      throw kafkaError(`reading the metadata of topic "${name}"`, e);
    }
    if (partitions.length === 0) throw proxyErrors.topicNotFound(name);
    partitions = [...partitions].sort((a, b) => a.partitionId - b.partitionId);
    const configs = await this.configs(name).catch(() => ({}) as Record<string, string>);
    const max = Number(configs["max.message.bytes"]);
    const info = { name, partitions, maxMessageBytes: max > 0 ? max : DEFAULT_MAX_MESSAGE_BYTES };
    this.cache.set(name, { at: Date.now(), info });
    return info;
  }

  /** One partition of a topic; 404 (40402) when the topic has no such partition. */
  async partition(topic: string, partition: number | string): Promise<PartitionMetadata> {
    const info = await this.topic(topic);
    const p = typeof partition === "number" ? partition : /^\d+$/.test(partition) ? Number(partition) : -1;
    const found = info.partitions.find((m) => m.partitionId === p);
    if (!found) throw proxyErrors.partitionNotFound(topic, partition);
    return found;
  }

  /** Checks that every `{ topic, partition }` exists (404 otherwise). */
  async checkPartitions(list: readonly { topic: string; partition: number }[]): Promise<void> {
    for (const { topic, partition } of list) await this.partition(topic, partition);
  }

  /** The topic's configuration, name to value (defaults included, as Confluent lists them). */
  async configs(name: string): Promise<Record<string, string>> {
    const admin = await this.call(`reading topic "${name}"`, () => this.clients.admin());
    const res = await this.call(`reading the configuration of topic "${name}"`, () =>
      admin.describeConfigs({ resources: [{ type: TOPIC, name }], includeSynonyms: false }),
    );
    const out: Record<string, string> = {};
    for (const r of res.resources)
      for (const e of r.configEntries)
        if (e.configValue !== null && e.configValue !== undefined) out[e.configName] = e.configValue;
    return out;
  }

  /** `{ beginning_offset, end_offset }` of a partition. */
  async offsets(
    topic: string,
    partition: number | string,
  ): Promise<{ beginning_offset: number; end_offset: number }> {
    const p = await this.partition(topic, partition);
    const admin = await this.call(`reading topic "${topic}"`, () => this.clients.admin());
    const all = await this.call(`reading the offsets of topic "${topic}"`, () =>
      admin.fetchTopicOffsets(topic),
    );
    const o = all.find((x) => x.partition === p.partitionId);
    if (!o) throw proxyErrors.partitionNotFound(topic, partition);
    return { beginning_offset: Number(o.low), end_offset: Number(o.high) };
  }

  /** Broker ids of the cluster. */
  async brokers(): Promise<number[]> {
    const admin = await this.call("describing the cluster", () => this.clients.admin());
    const { brokers } = await this.call("describing the cluster", () => admin.describeCluster());
    return brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw kafkaError(what, e);
    }
  }
}

/** A partition in v2's shape: its leader, and every replica with whether it is in sync. */
export function partitionView(p: PartitionMetadata): PartitionView {
  return {
    partition: p.partitionId,
    leader: p.leader,
    replicas: p.replicas.map((broker) => ({
      broker,
      leader: broker === p.leader,
      in_sync: p.isr.includes(broker),
    })),
  };
}
