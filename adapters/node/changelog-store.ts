import { randomUUID } from "node:crypto";
import type { Admin, Consumer, KafkaConfig, Producer } from "kafkajs";
import {
  type Broker,
  type Checkpoint,
  decodeSnapshot,
  encodeSnapshot,
  type OutgoingRecord,
  RivuletError,
  type StateStore,
} from "../../core/index.js";
import { SnapshotCollector, snapshotRecords } from "./changelog-records.js";
import { KafkaBroker } from "./kafka-broker.js";
import { brokerError, createTopicAndWait } from "./kafka-errors.js";
import { Kafka, logLevel, Partitioners } from "./kafkajs.js";

export interface ChangelogStoreOptions {
  /** Changelog topic (default `<group>-changelog`), compacted, one partition per state section. */
  topic?: string;
  /** How long a restore may take to read the changelog to its end (default 60 s). */
  readTimeout?: number;
}

/**
 * Checkpoints in a compacted Kafka topic: section `<group>/<n>` lives in partition n under the
 * key of the section, encoded with `encodeSnapshot`. With a {@link KafkaBroker} on the same
 * cluster, snapshots are written inside the job's commit transaction (`commitsWith`), so a
 * checkpoint, the outputs and the offsets naming it become visible together or not at all; a
 * restore reads the changelog with read_committed and takes the snapshot the offsets name.
 *
 * @example
 * const broker = new KafkaBroker({ brokers: ["127.0.0.1:9092"] });
 * const state = new KafkaChangelogStore({ brokers: ["127.0.0.1:9092"] });
 * await run(pipeline, { broker, state, group: "clicks" });
 * // A secured cluster: the config is KafkaJS's, `sasl` and `ssl` reach every client it makes.
 * new KafkaChangelogStore({ brokers, sasl: { mechanism: "scram-sha-512", username, password }, ssl: true });
 */
export class KafkaChangelogStore implements StateStore {
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private topic: string | undefined;
  /** What the changelog held when last read (a few snapshots per section). */
  private cache = new SnapshotCollector();

  constructor(
    private readonly config: KafkaConfig,
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
      try {
        await createTopicAndWait(this.admin, {
          topic: this.topic,
          numPartitions: sections,
          configEntries: [
            { name: "cleanup.policy", value: "compact" },
            // Every checkpoint writes whole snapshots: smaller segments let compaction (which
            // never touches the active segment) keep the log, and restores, short.
            { name: "segment.bytes", value: String(64 * 1024 * 1024) },
          ],
        });
      } catch (e) {
        throw brokerError(`cannot create the changelog topic "${this.topic}"`, e);
      }
    } else if (found.partitions.length < sections) {
      throw new RivuletError(
        "STATE",
        `changelog topic "${this.topic}" has ${found.partitions.length} partitions; the job's state has ${sections} sections`,
      );
    }
  }

  /**
   * Rides in the commits of a transactional {@link KafkaBroker} on the same cluster (its
   * bootstrap servers are this store's): the broker writes {@link records} in its transaction.
   */
  commitsWith(broker: Broker): boolean {
    if (!(broker instanceof KafkaBroker) || broker.guarantee !== "exactly-once") return false;
    const mine = [...(Array.isArray(this.config.brokers) ? this.config.brokers : [])].sort().join(",");
    return mine !== "" && mine === [...broker.bootstrap].sort().join(",");
  }

  /** A checkpoint as records of a commit's transaction: every section's snapshot (in parts, if large). */
  records(checkpoint: Checkpoint): OutgoingRecord[] {
    const topic = this.requireTopic();
    const out: OutgoingRecord[] = [];
    for (const [section, snap] of checkpoint.sections)
      out.push(
        ...snapshotRecords(topic, section, sectionNumber(section), checkpoint.id, encodeSnapshot(snap)),
      );
    return out;
  }

  /**
   * Outside the job's transaction (a broker it cannot ride with): one write with an idempotent
   * producer. The commit that follows names the checkpoint, so a partial write is never loaded.
   */
  async put(checkpoint: Checkpoint): Promise<void> {
    const records = this.records(checkpoint);
    if (records.length === 0) return;
    this.producer ??= this.kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
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
   * Reads the changelog to its end as it is now. A commit in flight on a section has written
   * its snapshot there inside its transaction, and read_committed reading stops at the first
   * open transaction: reaching the end means every such commit has ended. Then a stalled
   * member's last transaction, if it still committed, counts, instead of being duplicated by
   * the member that took its partitions over (KafkaJS's TxnOffsetCommit has no generation to
   * fence it with). The snapshots read are kept for the `get`s of the restore.
   */
  async settle(_sections: readonly string[]): Promise<void> {
    await this.readToEnd(new Map());
  }

  /**
   * The snapshot `id` of a section. The commit that named it is committed, but a transaction
   * that a dead process left open earlier in the same partition hides it from read_committed
   * readers until the broker aborts that transaction (the producers' 10 s transaction timeout,
   * checked every 10 s): read again until it shows, within `readTimeout`.
   */
  async get(section: string, id: string): Promise<unknown> {
    const deadline = Date.now() + (this.options.readTimeout ?? 60_000);
    for (;;) {
      const hit = this.cache.get(section, id);
      if (hit !== undefined) return decodeSnapshot(hit);
      if (Date.now() > deadline) return undefined;
      await this.readToEnd(new Map([[section, id]]));
      if (this.cache.get(section, id) === undefined) await new Promise((r) => setTimeout(r, 500));
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

  /**
   * Reads every partition of the changelog, committed records only, up to its current end,
   * keeping the last snapshots of each section and the `wanted` ones.
   */
  private async readToEnd(wanted: ReadonlyMap<string, string>): Promise<void> {
    const topic = this.requireTopic();
    try {
      await this.readToEndOf(topic, wanted);
    } catch (e) {
      // KafkaJS's own errors become Rivulet's, retriable when transient (a leader moving).
      throw brokerError(`reading changelog "${topic}"`, e);
    }
  }

  private async readToEndOf(topic: string, wanted: ReadonlyMap<string, string>): Promise<void> {
    const offsets = await this.admin!.fetchTopicOffsets(topic);
    // Read up to the last stable offset as it is now: a transaction left open by a process that
    // died holds the end back until it times out, and what a restore needs was committed before.
    const targets = new Map(
      offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]),
    );
    const pending = new Set(targets.keys());
    if (pending.size === 0) return;
    const collected = new SnapshotCollector(wanted);
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
              for (const m of batch.messages)
                if (m.key !== null && m.value !== null) collected.add(m.key.toString(), m.value.toString());
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
      this.cache = collected;
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
