import { type DBSchema, type IDBPDatabase, type IDBPTransaction, openDB } from "idb";
import {
  type Broker,
  type BrokerCapabilities,
  type CommittedOffset,
  type Consumer,
  type ConsumerOptions,
  FULL_CAPABILITIES,
  type Headers,
  type OutgoingRecord,
  outputOf,
  type ProduceRecord,
  partitionForKey,
  RivuletError,
  type StoredRecord,
  type TopicOptions,
  type Transaction,
  topicNameProblem,
} from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";

/** How long a topic keeps its records: at most `maxRecords` per partition, or `maxAgeMs` old. */
export interface Retention {
  maxRecords?: number;
  maxAgeMs?: number;
}

/**
 * A run of consecutive records of one partition, as columns: what one commit wrote there (as
 * Kafka stores a producer's batch). One IndexedDB value per segment, not per record.
 */
export interface Segment {
  /** Offset of its first record; the segment's key holds the offset after its last. */
  base: number;
  keys: (string | null)[];
  values: unknown[];
  timestamps: number[];
  headers?: (Headers | undefined)[];
}

/** The database: topics and their records, committed offsets, checkpoints. Version 2. */
export interface RivuletDB extends DBSchema {
  topics: { key: string; value: { name: string; partitions: number; retention?: Retention } };
  /** Key [topic, partition, end offset (exclusive)]. */
  segments: { key: [string, number, number]; value: Segment };
  /** Key [group, topic, partition]. */
  offsets: { key: [string, string, number]; value: { offset: number; metadata?: string } };
  /** Key [section, checkpoint id]: the section's snapshot, as structured clone keeps it. */
  state: { key: [string, string]; value: unknown };
  /** Key section: the id of its latest checkpoint. */
  latest: { key: string; value: string };
}

export type RivuletTransaction = IDBPTransaction<
  RivuletDB,
  ("segments" | "offsets" | "state" | "latest" | "topics")[],
  "readwrite"
>;

export interface IndexedDbBrokerOptions {
  /** Database name (default `rivulet`): one per app, or per job to keep them apart. */
  name?: string;
  /** Retention per topic (default: keep everything). */
  retention?: Readonly<Record<string, Retention>>;
  /** The IndexedDB to use (default: `globalThis.indexedDB`, looked up when opening). */
  indexedDB?: IDBFactory;
}

/** A companion store that writes checkpoints inside this broker's transactions. */
export interface CheckpointWriter {
  writeIn(tx: RivuletTransaction, checkpoint: NonNullable<Transaction["checkpoint"]>["checkpoint"]): void;
}

const VERSION = 2;
const STORES = ["topics", "segments", "offsets", "state", "latest"] as const;
/** Records a version 1 database's records are regrouped into, at most, per segment. */
const MIGRATED_SEGMENT = 10_000;

/**
 * Topics that behave like Kafka's (the in-memory broker's: partitions, offsets, groups, murmur2),
 * persisted in IndexedDB: a page that reloads, or a worker that is terminated, finds its topics,
 * committed offsets and checkpoints where they were. A commit (outputs, offsets and, with an
 * {@link IndexedDbStateStore} on the same database, the state snapshot) is one IndexedDB
 * transaction: exactly-once in the page. Records are kept in memory too, for speed; retention per
 * topic bounds both.
 *
 * @example
 * const broker = await IndexedDbBroker.open({ name: "clicks", retention: { clicks: { maxAgeMs: 86_400_000 } } });
 * const state = new IndexedDbStateStore(broker);
 * const job = await run(perMinute, { broker, state });
 */
export class IndexedDbBroker implements Broker {
  readonly capabilities: BrokerCapabilities = FULL_CAPABILITIES;
  /** The topics in memory (what consumers read). */
  readonly memory = new MemoryBroker();
  private readonly roundRobin = new Map<string, number>();
  private readonly retainedAt = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    /** @internal */ readonly db: IDBPDatabase<RivuletDB>,
    private readonly retention: Readonly<Record<string, Retention>>,
  ) {}

  /** Opens (creating or upgrading) the database and loads its topics and offsets. */
  static async open(options: IndexedDbBrokerOptions = {}): Promise<IndexedDbBroker> {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory)
      throw new RivuletError(
        "STATE",
        "IndexedDB is not available here (a private window, or not a browser): run with persist: false to keep topics in memory",
      );
    const name = options.name ?? "rivulet";
    let blocked: string | undefined;
    const opened = openDB<RivuletDB>(name, VERSION, {
      async upgrade(db, oldVersion, _newVersion, tx) {
        if (oldVersion < 1) {
          db.createObjectStore("topics", { keyPath: "name" });
          db.createObjectStore("offsets");
          db.createObjectStore("state");
          db.createObjectStore("latest");
        }
        if (oldVersion < 2) {
          db.createObjectStore("segments");
          // Version 1 kept a value per record ("records", key [topic, partition, offset]).
          if (oldVersion === 1)
            await migrateRecords(db as unknown as IDBDatabaseLike, tx as unknown as IDBTxLike);
        }
      },
      blocked(current) {
        blocked = `database "${name}" is open in another tab at version ${current}: close it to upgrade`;
      },
    });
    const db = await withDeadline(opened, 10_000, () =>
      blocked
        ? new RivuletError("STATE", `IndexedDB upgrade blocked: ${blocked}`)
        : new RivuletError("STATE", `IndexedDB database "${name}" did not open within 10 s`),
    ).catch((e: unknown) => {
      throw storageError(`cannot open IndexedDB database "${name}"`, e);
    });
    const broker = new IndexedDbBroker(db, options.retention ?? {});
    await broker.load();
    return broker;
  }

  /** Closes the database (a broker is not used after). */
  close(): void {
    this.db.close();
  }

  async createTopic(name: string, options: TopicOptions = {}): Promise<void> {
    const problem = topicNameProblem(name);
    if (problem) throw new RivuletError("INVALID_ARGUMENT", problem);
    if ((await this.memory.partitions(name)) !== undefined) return;
    const partitions = options.partitions ?? 1;
    this.memory.createTopicSync(name, { partitions });
    const retention = this.retention[name];
    await this.io(`creating topic "${name}"`, () =>
      this.db.put("topics", retention ? { name, partitions, retention } : { name, partitions }),
    );
  }

  partitions(topic: string): Promise<number | undefined> {
    return this.memory.partitions(topic);
  }

  consumer(options: ConsumerOptions): Promise<Consumer> {
    return this.memory.consumer(options);
  }

  committed(group: string, topic: string): Promise<CommittedOffset[]> {
    return this.memory.committed(group, topic);
  }

  /** Every record of a topic still held, partition by partition, in offset order. */
  records<V = unknown>(topic: string): Promise<StoredRecord<V>[]> {
    return this.memory.records<V>(topic);
  }

  /** Writes records to a topic (stored in IndexedDB before it resolves). */
  produce(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    return this.commit({ records: records.map((r) => ({ ...r, topic })) });
  }

  /**
   * One IndexedDB transaction: the records (placed as the in-memory broker places them:
   * explicit partition, murmur2 of the key, or round robin), the offsets and, when a companion
   * store said `commitsWith`, the checkpoint. Only once it has committed do the records show in
   * memory; a failed one leaves nothing anywhere.
   */
  commit(tx: Transaction): Promise<void> {
    const next = this.chain.then(() => this.commitNow(tx));
    this.chain = next.catch(() => {});
    return next;
  }

  private async commitNow(tx: Transaction): Promise<void> {
    const out = outputOf(tx.records);
    const now = Date.now();
    const ends = new Map<string, number[]>();
    const placed: (OutgoingRecord & { partition: number; timestamp: number; offset: number })[] = [];
    for (let r = 0; r < out.runs; r++) {
      const topic = out.runTopic(r);
      const n = await this.memory.partitions(topic);
      if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `topic "${topic}" does not exist`);
      let end = ends.get(topic);
      if (!end) ends.set(topic, (end = this.memory.endOffsets(topic)));
      for (let i = out.runStart(r), stop = out.runEnd(r); i < stop; i++) {
        const rec = out.record(i, r);
        const partition = rec.partition ?? this.place(topic, rec.key ?? null, n);
        if (!(Number.isInteger(partition) && partition >= 0 && partition < n))
          throw new RivuletError("INVALID_ARGUMENT", `topic "${topic}" has no partition ${partition}`);
        const ts = rec.timestamp ?? now;
        placed.push({ ...rec, partition, timestamp: ts, offset: end[partition]!++ });
      }
    }
    const t = this.db.transaction([...STORES], "readwrite") as RivuletTransaction;
    const done = t.done;
    try {
      const segments = t.objectStore("segments");
      for (const [key, seg] of segmentsOf(placed)) void segments.put(seg, key);
      const offsets = t.objectStore("offsets");
      for (const o of tx.offsets?.positions ?? []) {
        const v: RivuletDB["offsets"]["value"] = { offset: o.offset };
        if (o.metadata !== undefined) v.metadata = o.metadata;
        void offsets.put(v, [tx.offsets!.group, o.topic, o.partition]);
      }
      if (tx.checkpoint) {
        const writer = tx.checkpoint.store as Partial<CheckpointWriter>;
        if (typeof writer.writeIn !== "function")
          throw new RivuletError(
            "INVALID_ARGUMENT",
            "an IndexedDB commit carries the checkpoints of an IndexedDbStateStore only",
          );
        writer.writeIn(t, tx.checkpoint.checkpoint);
      }
    } catch (e) {
      t.abort();
      await done.catch(() => {});
      throw storageError("cannot write the commit to IndexedDB", e);
    }
    await done.catch((e: unknown) => {
      throw storageError("the IndexedDB transaction of a commit failed", e);
    });
    // Stored: now it shows.
    await this.memory.commit({
      records: placed.map(({ offset: _, ...r }) => r),
      ...(tx.offsets ? { offsets: tx.offsets } : {}),
    });
    await this.retain(new Set(placed.map((p) => p.topic)), now);
  }

  private place(topic: string, key: string | null, n: number): number {
    if (n === 1) return 0;
    if (key !== null) return partitionForKey(key, n);
    const i = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, i + 1);
    return i % n;
  }

  /**
   * Drops what the topics' retention no longer keeps, from IndexedDB and memory: at most once a
   * second per topic (an age check reads the topic's records).
   */
  private async retain(topics: ReadonlySet<string>, now: number): Promise<void> {
    for (const topic of topics) {
      const r = this.retention[topic];
      if (!r || now - (this.retainedAt.get(topic) ?? 0) < 1_000) continue;
      this.retainedAt.set(topic, now);
      const ends = this.memory.endOffsets(topic);
      const cut = ends.map((end) => (r.maxRecords === undefined ? 0 : Math.max(0, end - r.maxRecords)));
      if (r.maxAgeMs !== undefined) {
        const oldest = now - r.maxAgeMs;
        for (const rec of this.memory.recordsSync(topic))
          if (rec.timestamp < oldest && rec.offset + 1 > cut[rec.partition]!)
            cut[rec.partition] = rec.offset + 1;
      }
      const starts = this.memory.dropBefore(topic, cut);
      await this.io(`applying the retention of topic "${topic}"`, async () => {
        const t = this.db.transaction("segments", "readwrite");
        for (const [p, start] of starts.entries()) {
          if (start === 0) continue;
          // Segments that end at or before the new start go; the one holding it is trimmed.
          void t.store.delete(IDBKeyRange.bound([topic, p, 0], [topic, p, start]));
          const cursor = await t.store.openCursor(
            IDBKeyRange.bound([topic, p, start], [topic, p, Infinity], true),
          );
          const seg = cursor?.value;
          if (cursor && seg && seg.base < start) await cursor.update(trim(seg, start - seg.base));
        }
        await t.done;
      });
    }
  }

  /** Loads topics, records and committed offsets from the database into memory. */
  private async load(): Promise<void> {
    const topics = await this.io("reading topics", () => this.db.getAll("topics"));
    for (const t of topics) this.memory.createTopicSync(t.name, { partitions: t.partitions });
    for (const t of topics)
      for (let p = 0; p < t.partitions; p++) {
        const range = IDBKeyRange.bound([t.name, p, 0], [t.name, p, Infinity]);
        const segments = await this.io("reading records", () => this.db.getAll("segments", range));
        if (segments.length === 0) continue;
        if (segments[0]!.base > 0) this.memory.startAt(t.name, p, segments[0]!.base);
        const records: ProduceRecord[] = [];
        for (const seg of segments)
          for (let i = 0; i < seg.values.length; i++) {
            const r: ProduceRecord = {
              key: seg.keys[i] ?? null,
              value: seg.values[i],
              timestamp: seg.timestamps[i]!,
              partition: p,
            };
            const h = seg.headers?.[i];
            if (h) r.headers = h;
            records.push(r);
          }
        this.memory.produceSync(t.name, records);
      }
    const offsets = new Map<string, CommittedOffset[]>();
    let cursor = await this.db.transaction("offsets").store.openCursor();
    while (cursor) {
      const [group, topic, partition] = cursor.key;
      const c: CommittedOffset = { topic, partition, offset: cursor.value.offset };
      if (cursor.value.metadata !== undefined) c.metadata = cursor.value.metadata;
      offsets.set(group, [...(offsets.get(group) ?? []), c]);
      cursor = await cursor.continue();
    }
    for (const [group, positions] of offsets)
      await this.memory.commit({ records: [], offsets: { group, positions } });
  }

  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw storageError(what, e);
    }
  }
}

/** A storage failure as a `RivuletError`; a full quota says so, and what to do. */
export function storageError(what: string, e: unknown): RivuletError {
  if (e instanceof RivuletError) return e;
  const name = (e as { name?: string } | null)?.name;
  if (name === "QuotaExceededError")
    return new RivuletError(
      "STATE",
      `${what}: the browser's storage quota for this site is exceeded (set a retention on the topics, ask for navigator.storage.persist(), or run with persist: false)`,
      { cause: e },
    );
  return new RivuletError("STATE", `${what}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
    retriable: false,
  });
}

function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The placed records of a commit as one segment per partition, keyed as the store keys them. */
function segmentsOf(
  placed: readonly (OutgoingRecord & { partition: number; timestamp: number; offset: number })[],
): Map<[string, number, number], Segment> {
  const byPartition = new Map<string, { key: [string, number, number]; seg: Segment }>();
  for (const r of placed) {
    const id = `${r.topic}\u0000${r.partition}`;
    let e = byPartition.get(id);
    if (!e) {
      e = {
        key: [r.topic, r.partition, r.offset],
        seg: { base: r.offset, keys: [], values: [], timestamps: [] },
      };
      byPartition.set(id, e);
    }
    const { seg } = e;
    if (r.headers) (seg.headers ??= new Array(seg.values.length).fill(undefined)).push(r.headers);
    else seg.headers?.push(undefined);
    seg.keys.push(r.key ?? null);
    seg.values.push(r.value);
    seg.timestamps.push(r.timestamp);
    e.key[2] = r.offset + 1;
  }
  return new Map([...byPartition.values()].map((e) => [e.key, e.seg]));
}

/** A segment without its first `n` records. */
function trim(seg: Segment, n: number): Segment {
  const out: Segment = {
    base: seg.base + n,
    keys: seg.keys.slice(n),
    values: seg.values.slice(n),
    timestamps: seg.timestamps.slice(n),
  };
  if (seg.headers) out.headers = seg.headers.slice(n);
  return out;
}

/** The parts of idb's upgrade database and transaction the migration uses (untyped stores). */
interface IDBDatabaseLike {
  deleteObjectStore(name: string): void;
}
interface IDBTxLike {
  objectStore(name: string): {
    openCursor(): Promise<IDBCursorLike | null>;
    put(value: unknown, key: unknown): Promise<unknown>;
  };
}
interface IDBCursorLike {
  key: [string, number, number];
  value: { key: string | null; value: unknown; timestamp: number; headers?: Headers };
  continue(): Promise<IDBCursorLike | null>;
}

/** Version 1 to 2: a value per record regrouped into segments of consecutive offsets. */
async function migrateRecords(db: IDBDatabaseLike, tx: IDBTxLike): Promise<void> {
  const segments = tx.objectStore("segments");
  let open: { topic: string; partition: number; seg: Segment } | undefined;
  const flush = () => {
    if (!open) return;
    const { topic, partition, seg } = open;
    void segments.put(seg, [topic, partition, seg.base + seg.values.length]);
    open = undefined;
  };
  let cursor = await tx.objectStore("records").openCursor();
  while (cursor) {
    const [topic, partition, offset] = cursor.key;
    const v = cursor.value;
    if (
      !open ||
      open.topic !== topic ||
      open.partition !== partition ||
      open.seg.base + open.seg.values.length !== offset ||
      open.seg.values.length >= MIGRATED_SEGMENT
    ) {
      flush();
      open = { topic, partition, seg: { base: offset, keys: [], values: [], timestamps: [] } };
    }
    const seg = open.seg;
    if (v.headers) (seg.headers ??= new Array(seg.values.length).fill(undefined)).push(v.headers);
    else seg.headers?.push(undefined);
    seg.keys.push(v.key);
    seg.values.push(v.value);
    seg.timestamps.push(v.timestamp);
    cursor = await cursor.continue();
  }
  flush();
  db.deleteObjectStore("records");
}
