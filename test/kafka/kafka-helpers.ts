// Test helpers for the Kafka suites: unique names, and a plain KafkaJS reader (independent of the
// code under test) that reads a whole topic as a read_committed (or read_uncommitted) consumer.
import { randomUUID } from "node:crypto";
import { type IHeaders, Kafka, logLevel } from "kafkajs";

/** A topic or group name no other test (or earlier run against the same broker) uses. */
/** Waits until `check` holds, polling every 50 ms, or fails after `timeoutMs` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
  headers: Record<string, string>;
}

/**
 * Every record of `topic` up to its end offsets (the last stable offset, for read_committed),
 * waiting until at least `min` records are there (transaction markers land a little after a
 * commit returns).
 */
export async function readTopic(
  bootstrap: string,
  topic: string,
  { readUncommitted = false, min = 0, timeoutMs = 20_000 } = {},
): Promise<ReadRecord[]> {
  const kafka = new Kafka({
    clientId: "rivulet-test-reader",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: uniq("reader"), readUncommitted, maxWaitTimeInMs: 100 });
  const records: ReadRecord[] = [];
  const next = new Map<number, number>();
  const deadline = Date.now() + timeoutMs;
  await admin.connect();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      next.set(payload.partition, Math.max(next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
    });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages)
          records.push({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key?.toString() ?? null,
            value: m.value?.toString() ?? null,
            timestamp: Number(m.timestamp),
            headers: decode(m.headers),
          });
      },
    });
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const caughtUp = ends.every(
        (e) => Number(e.high) === 0 || (next.get(e.partition) ?? 0) >= Number(e.high),
      );
      if (caughtUp && records.length >= min) return records;
      if (Date.now() > deadline)
        throw new Error(`reading ${topic}: ${records.length} records after ${timeoutMs} ms (want ${min})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

function decode(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}

/** A raw KafkaJS admin client, for checks the Broker seam does not offer. */
export function kafkaAdmin(bootstrap: string) {
  return new Kafka({
    clientId: "rivulet-test-admin",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  }).admin();
}

/** A group's committed offsets for `topic`, by partition number (-1 where it has none). */
export async function committedOffsets(bootstrap: string, group: string, topic: string): Promise<number[]> {
  const admin = kafkaAdmin(bootstrap);
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return [...(t?.partitions ?? [])].sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}
