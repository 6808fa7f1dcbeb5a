/**
 * Kafka's default partitioner (murmur2 over the UTF-8 key bytes, made positive, modulo the
 * partition count), so keys land where Kafka and KafkaJS would put them: co-partitioning holds
 * between simulated and real topics.
 */
const encoder = new TextEncoder();

export function murmur2(bytes: Uint8Array): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const len = bytes.length;
  let h = seed ^ len;
  const whole = len & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (bytes[i]! & 0xff) |
      ((bytes[i + 1]! & 0xff) << 8) |
      ((bytes[i + 2]! & 0xff) << 16) |
      ((bytes[i + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = len & 3;
  if (tail === 3) h ^= (bytes[whole + 2]! & 0xff) << 16;
  if (tail >= 2) h ^= (bytes[whole + 1]! & 0xff) << 8;
  if (tail >= 1) {
    h ^= bytes[whole]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka assigns to a non-null key. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions;
}
