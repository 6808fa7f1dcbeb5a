/**
 * Records a consumer instance has fetched from Kafka and not yet returned, per partition, and
 * the instance's position in each partition (the next offset it returns: Kafka's consumer
 * position). A record at an offset below what a partition has buffered or returned is dropped,
 * so a batch never repeats one; a seek empties the partition and moves its position.
 *
 * @example
 * const buf = new FetchBuffer();
 * buf.add(batch);                                   // from the group member
 * const taken = buf.take(maxBytes, (tp, m) => ...); // oldest first, within max_bytes
 *
 * @module
 */
import type { KafkaMessage } from "kafkajs";
import type { FetchedBatch, TopicPartition } from "./group-member.js";
import { recordBytes } from "./records.js";

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

interface Buffered extends TopicPartition {
  messages: KafkaMessage[];
  /** Index of the next message to return. */
  start: number;
  /** Offset after the last buffered record (or the batch's control records). */
  next: number;
}

export class FetchBuffer {
  private readonly parts = new Map<string, Buffered>();
  readonly positions = new Map<string, number>();
  private bytesHeld = 0;
  private records = 0;
  /** Partition to start the next take at: each gets its turn when max_bytes is small. */
  private turn = 0;

  get bytes(): number {
    return this.bytesHeld;
  }

  get count(): number {
    return this.records;
  }

  /** Adds a fresh batch; returns whether it brought a record. */
  add(batch: FetchedBatch): boolean {
    const key = tpKey(batch.topic, batch.partition);
    let b = this.parts.get(key);
    const expect = b ? b.next : this.positions.get(key);
    let added = false;
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (expect !== undefined && offset < expect) continue;
      if (!b) {
        b = { topic: batch.topic, partition: batch.partition, messages: [], start: 0, next: offset };
        this.parts.set(key, b);
      }
      // The first record seen of a partition is where its position starts.
      if (!this.positions.has(key)) this.positions.set(key, offset);
      b.messages.push(m);
      this.bytesHeld += recordBytes(m);
      this.records++;
      added = true;
    }
    if (b) b.next = Math.max(b.next, batch.next);
    return added;
  }

  /**
   * Takes records, oldest first per partition, until `maxBytes` of keys and values (the first
   * record always, so that one larger than `maxBytes` cannot stall the consumer). `convert` may
   * throw for a record: records taken before it are returned, and it stays first in line.
   */
  take<T>(maxBytes: number, convert: (b: TopicPartition, m: KafkaMessage) => T): T[] {
    const out: T[] = [];
    let bytes = 0;
    const parts = [...this.parts.values()];
    if (parts.length === 0) return out;
    const first = this.turn++ % parts.length;
    for (let i = 0; i < parts.length; i++) {
      const b = parts[(first + i) % parts.length]!;
      while (b.start < b.messages.length) {
        const m = b.messages[b.start]!;
        const size = recordBytes(m);
        if (out.length > 0 && bytes + size > maxBytes) return this.settle(out);
        let converted: T;
        try {
          converted = convert(b, m);
        } catch (e) {
          if (out.length > 0) return this.settle(out);
          throw e;
        }
        out.push(converted);
        bytes += size;
        this.bytesHeld -= size;
        this.records--;
        b.start++;
        this.positions.set(tpKey(b.topic, b.partition), Number(m.offset) + 1);
      }
    }
    return this.settle(out);
  }

  /** Moves a partition's position, dropping what it had buffered. */
  seek(topic: string, partition: number, offset: number): void {
    this.drop(tpKey(topic, partition));
    this.positions.set(tpKey(topic, partition), offset);
  }

  /** Drops every buffered record (positions stay). */
  clear(): void {
    for (const key of [...this.parts.keys()]) this.drop(key);
  }

  /** Forgets partitions not in `keep`: their records and their positions. */
  retain(keep: ReadonlySet<string>): void {
    for (const key of [...this.parts.keys()]) if (!keep.has(key)) this.drop(key);
    for (const key of [...this.positions.keys()]) if (!keep.has(key)) this.positions.delete(key);
  }

  private drop(key: string): void {
    const b = this.parts.get(key);
    if (!b) return;
    for (let i = b.start; i < b.messages.length; i++) {
      this.bytesHeld -= recordBytes(b.messages[i]!);
      this.records--;
    }
    this.parts.delete(key);
  }

  /** Removes partitions whose records were all taken. */
  private settle<T>(out: T[]): T[] {
    for (const [key, b] of this.parts) if (b.start >= b.messages.length) this.parts.delete(key);
    return out;
  }
}
