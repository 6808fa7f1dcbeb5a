/**
 * Writing a produce request's records to Kafka. Every record has been decoded and checked
 * first (a bad one refuses the request, nothing written); here each gets its partition (the one
 * it names, else murmur2 of its key as Java clients and `KafkaBroker` place keys, KafkaJS's
 * `DefaultPartitioner`, else round robin), records too large for the topic's
 * `max.message.bytes` are refused, and the rest go out in as few produce requests as the
 * batch limits allow, acknowledged by all in-sync replicas. The answer lists each record's
 * partition and offset, in request order; a write Kafka failed carries v2's per-record
 * `error_code` (1 for a permanent failure, 2 when trying again may work) and `error`.
 *
 * @example
 * const offsets = await produce(clients, metadata, topicInfo, records);
 * // [{ partition: 2, offset: 100, error_code: null, error: null }, ...]
 *
 * @module
 */
import type { Message } from "kafkajs";
import { describeError } from "../../../core/index.js";
import { isRetriable } from "../kafka-errors.js";
import { Partitioners } from "../kafkajs.js";
import { proxyErrors } from "./errors.js";
import type { KafkaClients } from "./kafka-clients.js";
import type { TopicInfo } from "./metadata.js";
import type { ProduceRecord } from "./records.js";

export interface RecordOffset {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

/** Bytes of records per partition in one produce request (well under Kafka's 1 MiB default). */
const CHUNK_BYTES = 512 * 1024;

/** Places records on partitions: Java's murmur2 for keys, round robin without one (per topic). */
const partitioner = Partitioners.DefaultPartitioner();

/** Writes `records` to `topic` and says where each went (or why it did not). */
export async function produce(
  clients: KafkaClients,
  topic: TopicInfo,
  records: readonly ProduceRecord[],
): Promise<RecordOffset[]> {
  // Placed and checked before anything is sent.
  const placed = records.map((r, i) => {
    if (r.partition !== undefined && !topic.partitions.some((p) => p.partitionId === r.partition))
      throw proxyErrors.partitionNotFound(topic.name, r.partition, `records[${i}]`);
    if (r.size > topic.maxMessageBytes)
      throw proxyErrors.payload(
        `records[${i}] takes about ${r.size} bytes, more than the ${topic.maxMessageBytes} bytes of topic "${topic.name}"'s max.message.bytes; nothing was written`,
      );
    const message: Message = { key: r.key, value: r.value };
    // KafkaJS writes a null header value as null (its type says Buffer | string).
    if (r.headers) message.headers = r.headers as NonNullable<Message["headers"]>;
    if (r.timestamp !== undefined) message.timestamp = String(r.timestamp);
    const partition =
      r.partition ?? partitioner({ topic: topic.name, partitionMetadata: topic.partitions, message });
    message.partition = partition;
    return { index: i, partition, message, size: r.size };
  });

  // Rounds of sends: round k carries the k-th chunk of every partition's records, in order.
  const perPartition = new Map<number, (typeof placed)[]>();
  /** Bytes of each partition's last chunk (summed as records are placed, not re-added). */
  const lastBytes = new Map<number, number>();
  for (const p of placed) {
    const chunks = perPartition.get(p.partition) ?? [];
    if (chunks.length === 0) perPartition.set(p.partition, chunks);
    const last = chunks.at(-1);
    const bytes = lastBytes.get(p.partition) ?? 0;
    if (last && bytes + p.size <= CHUNK_BYTES) {
      last.push(p);
      lastBytes.set(p.partition, bytes + p.size);
    } else {
      chunks.push([p]);
      lastBytes.set(p.partition, p.size);
    }
  }
  const rounds: (typeof placed)[] = [];
  for (const chunks of perPartition.values())
    chunks.forEach((chunk, k) => {
      (rounds[k] ??= []).push(...chunk);
    });

  const out: RecordOffset[] = records.map(() => ({
    partition: null,
    offset: null,
    error_code: null,
    error: null,
  }));
  let failure: unknown;
  for (const round of rounds) {
    if (failure === undefined) {
      try {
        const producer = await clients.producer();
        const base = await producer.send(
          topic.name,
          round.map((p) => p.message),
        );
        const seen = new Map<number, number>();
        for (const p of round) {
          const n = seen.get(p.partition) ?? 0;
          seen.set(p.partition, n + 1);
          out[p.index] = {
            partition: p.partition,
            offset: base.get(p.partition)! + n,
            error_code: null,
            error: null,
          };
        }
        continue;
      } catch (e) {
        failure = e;
        clients.dropProducer();
      }
    }
    const retriable = isRetriable(failure);
    for (const p of round)
      out[p.index] = {
        partition: null,
        offset: null,
        error_code: retriable ? 2 : 1,
        error: `${retriable ? "Retriable Kafka error" : "Kafka error"}: ${describeError(failure)}`,
      };
  }
  return out;
}
