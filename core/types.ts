/** Keys a stream can be partitioned by. Objects are excluded on purpose: Map lookups would be by identity. */
export type Key = string | number;

/** Headers travel as strings on every runtime (Kafka's bytes are decoded as UTF-8). */
export type Headers = Record<string, string>;

/** A record as a producer hands it to a broker. */
export interface ProduceRecord<V = unknown> {
  key?: string | null;
  value: V;
  /** Event time in epoch milliseconds; the broker's clock when absent. */
  timestamp?: number;
  headers?: Headers;
  /** Explicit partition; otherwise the key hash (murmur2, as Kafka) or round-robin for null keys. */
  partition?: number;
}

/** A record as it sits in a topic. */
export interface StoredRecord<V = unknown> {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: V;
  timestamp: number;
  headers: Headers;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** What a window aggregate emits: one per (key, window) firing, with timestamp `end - 1`. */
export interface WindowResult<K, R> {
  key: K;
  start: number;
  end: number;
  value: R;
}

/** What a rolling (unwindowed) keyed aggregate emits on every update. */
export interface KeyedValue<K, R> {
  key: K;
  value: R;
}
