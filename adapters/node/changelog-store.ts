import { randomUUID } from "node:crypto";
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
import { type OutgoingRecord, RivuletError, type StateStore } from "../../core/index.js";

export interface ChangelogStoreOptions {
  /** Changelog topic (default `<group>-changelog`), compacted, one partition per state section. */
  topic?: string;
  /** How long a restore may take to read the changelog to its end (default 60 s). */
  readTimeout?: number;
}

/** The first line of a changelog record; the snapshot text (or its part) follows the newline. */
interface Header {
  id: string;
  /** This record's part of the snapshot, from 0, and how many parts it has. */
  part: number;
  parts: number;
}

/**
 * Characters of snapshot text per changelog record: well below the broker's 1 MiB record
 * limit (`message.max.bytes`) even if every character took 3 bytes of UTF-8.
 */
const PART_CHARS = 300_000;

/**
 * Checkpoints in a compacted Kafka topic: section `<group>/<n>` lives in partition n under the
 * key of the section. Snapshots are written inside the job's commit transaction (`stage`), so a
 * checkpoint, the outputs and the offsets naming it become visible together or not at all; a
 * restore reads the changelog with read_committed and takes the snapshot the offsets name.
 *
 * @example
 * const broker = new KafkaBroker({ brokers: ["127.0.0.1:9092"] });
 * const state = new KafkaChangelogStore({ brokers: ["127.0.0.1:9092"] });
 * await run(pipeline, { broker, state, group: "clicks" });
 */
export class KafkaChangelogStore implements StateStore {
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private topic: string | undefined;
  /** What the changelog held when last read: section -> id -> snapshot. */
  private cache = new Map<string, Map<string, string>>();

  constructor(
    config: KafkaConfig,
    private readonly options: ChangelogStoreOptions = {},
  ) {
    this.kafka = new Kafka({
      logLevel: logLevel.NOTHING,
      ...config,
      clientId: config.clientId ?? "rivulet-changelog",
    });
  }

  async open({ group, sections }: { group: string; sections: number }): Promise<void> {
    this.topic = this.options.topic ?? `${group}-changelog`;
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    const existing = await this.admin.fetchTopicMetadata({ topics: [] });
    const found = existing.topics.find((t) => t.name === this.topic);
    if (!found) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: this.topic,
            numPartitions: sections,
            configEntries: [{ name: "cleanup.policy", value: "compact" }],
          },
        ],
      });
    } else if (found.partitions.length < sections) {
      throw new RivuletError(
        "STATE",
        `changelog topic "${this.topic}" has ${found.partitions.length} partitions; the job's state has ${sections} sections`,
      );
    }
  }

  /**
   * A snapshot as one record, or as several parts of at most {@link PART_CHARS} characters
   * keyed `<section>#<part>`, so that no record is too large for the broker. Compaction keeps
   * the newest record per key; a part left over from an older, longer snapshot carries the
   * older id and is ignored.
   */
  stage(section: string, id: string, snapshot: string): OutgoingRecord[] {
    const topic = this.requireTopic();
    const partition = sectionNumber(section);
    const parts = Math.max(1, Math.ceil(snapshot.length / PART_CHARS));
    const out: OutgoingRecord[] = [];
    for (let part = 0; part < parts; part++) {
      const header: Header = { id, part, parts };
      out.push({
        topic,
        key: parts === 1 ? section : `${section}#${part}`,
        value: `${JSON.stringify(header)}\n${snapshot.slice(part * PART_CHARS, (part + 1) * PART_CHARS)}`,
        partition,
      });
    }
    return out;
  }

  /** Outside a transaction (used only when a broker cannot stage): one idempotent write. */
  async put(section: string, id: string, snapshot: string): Promise<void> {
    this.producer ??= this.kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
    const records = this.stage(section, id, snapshot);
    await this.producer.send({
      topic: records[0]!.topic,
      messages: records.map((r) => ({
        key: r.key ?? null,
        value: r.value as string,
        partition: r.partition!,
      })),
    });
  }

  /**
   * The snapshot `id` of a section. The commit that named it is committed, but a transaction
   * that a dead process left open earlier in the same partition hides it from read_committed
   * readers until the broker aborts that transaction (the producers' 10 s transaction timeout,
   * checked every 10 s): read again until it shows, within `readTimeout`.
   */
  async get(section: string, id: string): Promise<string | undefined> {
    const deadline = Date.now() + (this.options.readTimeout ?? 60_000);
    for (;;) {
      const hit = this.cache.get(section)?.get(id);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) return undefined;
      await this.readToEnd();
      if (!this.cache.get(section)?.has(id)) await new Promise((r) => setTimeout(r, 500));
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.admin?.disconnect(), this.producer?.disconnect()]);
  }

  private requireTopic(): string {
    if (!this.topic)
      throw new RivuletError("STATE", "the changelog store is not open: pass it to run(..., { state })");
    return this.topic;
  }

  /** Reads every partition of the changelog, committed records only, up to its current end. */
  private async readToEnd(): Promise<void> {
    const topic = this.requireTopic();
    const offsets = await this.admin!.fetchTopicOffsets(topic);
    // Read up to the last stable offset as it is now: a transaction left open by a process that
    // died holds the end back until it times out, and what a restore needs was committed before.
    const targets = new Map(
      offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]),
    );
    const pending = new Set(targets.keys());
    if (pending.size === 0) return;
    const cache = new Map<string, Map<string, string>>();
    // Parts of snapshots not yet complete: section -> id -> parts by number.
    const partial = new Map<string, Map<string, string[]>>();
    const consumer: Consumer = this.kafka.consumer({
      groupId: `rivulet-changelog-reader-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new RivuletError("STATE", `reading changelog "${topic}" did not reach its end in time`, {
                retriable: true,
              }),
            ),
          this.options.readTimeout ?? 60_000,
        );
        void consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                if (m.key === null || m.value === null) continue;
                const key = m.key.toString();
                const text = m.value.toString();
                const nl = text.indexOf("\n");
                // Before parts, a record was one JSON object `{ id, snapshot }`.
                const legacy = nl < 0 ? (JSON.parse(text) as { id: string; snapshot: string }) : undefined;
                const header: Header = legacy
                  ? { id: legacy.id, part: 0, parts: 1 }
                  : (JSON.parse(text.slice(0, nl)) as Header);
                const body = legacy ? legacy.snapshot : text.slice(nl + 1);
                const section = header.parts > 1 ? key.slice(0, -`#${header.part}`.length) : key;
                let snapshot: string | undefined = body;
                if (header.parts > 1) {
                  let ids = partial.get(section);
                  if (!ids) partial.set(section, (ids = new Map()));
                  let parts = ids.get(header.id);
                  if (!parts) ids.set(header.id, (parts = []));
                  parts[header.part] = body;
                  snapshot = undefined;
                  if (parts.filter((x) => x !== undefined).length === header.parts) {
                    snapshot = parts.join("");
                    ids.delete(header.id);
                  }
                }
                if (snapshot === undefined) continue;
                let ids = cache.get(section);
                if (!ids) cache.set(section, (ids = new Map()));
                ids.set(header.id, snapshot);
              }
              // Control records (transaction markers) count too, so a caught-up partition has lag 0.
              const target = targets.get(batch.partition);
              if (
                batch.offsetLag() === "0" ||
                (target !== undefined && Number(batch.lastOffset()) + 1 >= target)
              )
                pending.delete(batch.partition);
              if (pending.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      await done;
      this.cache = cache;
    } finally {
      await consumer.disconnect();
    }
  }
}

function sectionNumber(section: string): number {
  const n = Number(section.slice(section.lastIndexOf("/") + 1));
  if (!Number.isInteger(n) || n < 0)
    throw new RivuletError("STATE", `section "${section}" has no partition number`);
  return n;
}
