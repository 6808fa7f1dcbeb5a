import { type DBSchema, type IDBPDatabase, type IDBPTransaction, openDB } from "idb";
import {
  type Broker,
  type BrokerCapabilities,
  type CommittedOffset,
  type Consumer,
  type ConsumerOptions,
  FULL_CAPABILITIES,
  type Headers,
  OutputBuffer,
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
import { decodeRecords, type EncodedRecords } from "./columns.js";

/** How long a topic keeps its records: at most `maxRecords` per partition, or `maxAgeMs` old. */
export interface Retention {
  maxRecords?: number;
  maxAgeMs?: number;
}

/**
 * A run of consecutive records of one partition, as columns: what one commit wrote there (as
 * Kafka stores a producer's batch). One IndexedDB value per segment, not per record.
 */
export type Segment = RecordsSegment | EncodedSegment;

/** A segment of plain columns (structured clone keeps the values). */
export interface RecordsSegment {
  /** Offset of its first record; the segment's key holds the offset after its last. */
  base: number;
  keys: (string | null)[];
  values: unknown[];
  timestamps: number[];
  headers?: (Headers | undefined)[];
}

/**
 * A segment kept as the page encoded its records (`encodeRecords`: typed arrays and string
 * dictionaries), when a produce call's records all went to one partition: storing it is a copy
 * of a few buffers, not a structured clone of an object per record.
 */
export interface EncodedSegment {
  base: number;
  encoded: EncodedRecords;
}

/** The database: topics and their records, committed offsets, checkpoints. Version 3. */
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

/** 2: segments of records; 3: segments may be encoded (code that reads only 2 must not open it). */
const VERSION = 3;
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
  /** Commits waiting for the one being written (see `write`). */
  private readonly pending: PendingCommit[] = [];
  private writing = false;

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
        // Version 3 reads version 2's segments as they are (it adds encoded ones).
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
    const out = new OutputBuffer();
    for (const r of records) out.add({ ...r, topic });
    return this.commit({ records: out });
  }

  /**
   * Writes records given in columns, as `produce` does; `encoded` holds the same records as the
   * page encoded them (`encodeRecords`), kept as they came when they all go to one partition
   * with their own timestamps.
   */
  produceColumns(records: OutputBuffer, encoded?: EncodedRecords): Promise<void> {
    return this.commit({ records }, encoded);
  }

  /**
   * One IndexedDB transaction: the records (placed as the in-memory broker places them:
   * explicit partition, murmur2 of the key, or round robin), the offsets and, when a companion
   * store said `commitsWith`, the checkpoint. Only once it has committed do the records show in
   * memory; a failed one leaves nothing anywhere. Commits that come while one is being written
   * go together in the next transaction (a group commit: records produced from the page ride
   * with the job's next commit instead of taking a transaction each), each still all or nothing.
   */
  commit(tx: Transaction, encoded?: EncodedRecords): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ tx, encoded, resolve, reject });
      if (!this.writing) void this.write();
    });
  }

  /** Writes the waiting commits, in order, a group at a time. */
  private async write(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        // At most one checkpoint per transaction (a store replaces its previous one in it).
        let n = 0;
        let checkpoints = 0;
        while (n < this.pending.length && (checkpoints += this.pending[n]!.tx.checkpoint ? 1 : 0) <= 1) n++;
        const group = this.pending.splice(0, Math.max(1, n));
        try {
          await this.commitGroup(group);
        } catch (e) {
          // Unforeseen (a closed database): every commit of the group not settled yet fails.
          for (const c of group) c.reject(storageError("cannot write the commit to IndexedDB", e));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async commitGroup(group: PendingCommit[]): Promise<void> {
    const now = Date.now();
    const ends = new Map<string, number[]>();
    const placed: { commit: PendingCommit; placed: Placed }[] = [];
    for (const commit of group)
      try {
        const writer = commit.tx.checkpoint?.store as Partial<CheckpointWriter> | undefined;
        if (writer && typeof writer.writeIn !== "function")
          throw new RivuletError(
            "INVALID_ARGUMENT",
            "an IndexedDB commit carries the checkpoints of an IndexedDbStateStore only",
          );
        placed.push({ commit, placed: await this.placeAll(outputOf(commit.tx.records), now, ends) });
      } catch (e) {
        commit.reject(e);
      }
    if (placed.length === 0) return;
    const t = this.db.transaction([...STORES], "readwrite") as RivuletTransaction;
    const done = t.done;
    let at = 0;
    try {
      const segments = t.objectStore("segments");
      const offsets = t.objectStore("offsets");
      for (; at < placed.length; at++) {
        const { commit, placed: p } = placed[at]!;
        const { tx, encoded } = commit;
        const whole =
          encoded !== undefined && p.runs.length === 1 && encoded.length === p.length && p.stamped;
        for (const run of p.runs)
          settled(
            segments.put(whole ? { base: run.base, encoded } : recordsSegment(p.out, run, p.timestamps), [
              run.topic,
              run.partition,
              run.base + run.rows.length,
            ]),
          );
        for (const o of tx.offsets?.positions ?? []) {
          const v: RivuletDB["offsets"]["value"] = { offset: o.offset };
          if (o.metadata !== undefined) v.metadata = o.metadata;
          settled(offsets.put(v, [tx.offsets!.group, o.topic, o.partition]));
        }
        if (tx.checkpoint)
          (tx.checkpoint.store as unknown as CheckpointWriter).writeIn(t, tx.checkpoint.checkpoint);
      }
    } catch (e) {
      t.abort();
      await done.catch(() => {});
      // The commit that could not be written fails; the others go again, in the next group.
      placed[at]!.commit.reject(storageError("cannot write the commit to IndexedDB", e));
      this.pending.unshift(...placed.filter((_, i) => i !== at).map((p) => p.commit));
      return;
    }
    try {
      await done;
    } catch (e) {
      const error = storageError("the IndexedDB transaction of a commit failed", e);
      for (const p of placed) p.commit.reject(error);
      return;
    }
    // Stored: now it shows, where it was placed and with the timestamps stored.
    const shown: PendingCommit[] = [];
    for (const { commit, placed: p } of placed)
      try {
        await this.memory.commit({
          records: p.memory,
          ...(commit.tx.offsets ? { offsets: commit.tx.offsets } : {}),
        });
        shown.push(commit);
      } catch (e) {
        commit.reject(e);
      }
    try {
      await this.retain(new Set(placed.flatMap((p) => p.placed.runs.map((r) => r.topic))), now);
    } catch (e) {
      for (const commit of shown) commit.reject(e);
      return;
    }
    for (const commit of shown) commit.resolve();
  }

  /**
   * Where each record goes (partition, offset), by column: the runs of one topic-partition in
   * offset order, the timestamps (the broker's clock for records without), and the buffer the
   * in-memory topics take (explicit partitions when some topic has several).
   */
  private async placeAll(out: OutputBuffer, now: number, shared: Map<string, number[]>): Promise<Placed> {
    let timestamps: number[] = out.timestamps;
    let stamped = !out.unstamped;
    if (stamped) for (let i = 0; i < out.length && stamped; i++) stamped = !Number.isNaN(timestamps[i]);
    if (!stamped) {
      // A copy (the buffer may be the job's), NaN (none given) as the broker's clock.
      timestamps = out.timestamps.slice(0, out.length);
      for (let i = 0; i < timestamps.length; i++) if (Number.isNaN(timestamps[i])) timestamps[i] = now;
    }
    const runs = new Map<string, PlacedRun>();
    const ends = new Map<string, number[]>();
    let partitions: number[] | undefined;
    for (let r = 0; r < out.runs; r++) {
      const topic = out.runTopic(r);
      const n = await this.memory.partitions(topic);
      if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `topic "${topic}" does not exist`);
      let end = ends.get(topic);
      if (!end) ends.set(topic, (end = [...(shared.get(topic) ?? this.memory.endOffsets(topic))]));
      const start = out.runStart(r);
      const stop = out.runEnd(r);
      if (n > 1 || out.partitions !== undefined) partitions ??= new Array(out.length).fill(0);
      let run: PlacedRun | undefined;
      for (let i = start; i < stop; i++) {
        const partition = out.partitions?.[i] ?? this.place(topic, out.keys?.[i] ?? null, n);
        if (!(Number.isInteger(partition) && partition >= 0 && partition < n))
          throw new RivuletError("INVALID_ARGUMENT", `topic "${topic}" has no partition ${partition}`);
        if (partitions) partitions[i] = partition;
        if (run?.partition !== partition) {
          const id = `${topic}\u0000${partition}`;
          run = runs.get(id);
          if (!run) runs.set(id, (run = { topic, partition, base: end[partition]!, rows: [] }));
        }
        run.rows.push(i);
        end[partition]!++;
      }
    }
    let memory = out;
    if (partitions || !stamped) {
      // A copy for the in-memory topics, with what is stored: partitions and timestamps.
      memory = new OutputBuffer();
      for (let r = 0; r < out.runs; r++) {
        const topic = out.runTopic(r);
        for (let i = out.runStart(r), stop = out.runEnd(r); i < stop; i++)
          memory.push(topic, out.keys?.[i] ?? null, out.values[i], timestamps[i]!, out.headersAt(i));
      }
      if (partitions) memory.partitions = partitions;
    } else if (out.ids !== undefined) {
      // The ids go into the headers (as stored); the buffer itself is the job's, left as it is.
      memory = new OutputBuffer();
      for (let r = 0; r < out.runs; r++)
        for (let i = out.runStart(r), stop = out.runEnd(r); i < stop; i++)
          memory.push(
            out.runTopic(r),
            out.keys?.[i] ?? null,
            out.values[i],
            timestamps[i]!,
            out.headersAt(i),
          );
    }
    // Placed: the group's next commit goes on from here.
    for (const [topic, end] of ends) shared.set(topic, end);
    return { out, length: out.length, runs: [...runs.values()], timestamps, stamped, memory };
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
        for (const stored of segments) {
          const seg = plainSegment(stored);
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

/**
 * A request of a transaction whose outcome is the transaction's (`done`): an aborted one
 * rejects its requests too, which nobody awaits.
 */
export function settled(request: Promise<unknown>): void {
  request.catch(() => {});
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

/** A commit's records of one topic-partition: its indexes in the commit's buffer, from offset `base`. */
interface PlacedRun {
  topic: string;
  partition: number;
  base: number;
  rows: number[];
}

/** A commit waiting to be written, and its caller. */
interface PendingCommit {
  tx: Transaction;
  encoded: EncodedRecords | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Placed {
  out: OutputBuffer;
  length: number;
  runs: PlacedRun[];
  /** Every record's timestamp as stored (the broker's clock for those without). */
  timestamps: ArrayLike<number>;
  /** Whether every record had its own. */
  stamped: boolean;
  /** The records for the in-memory topics. */
  memory: OutputBuffer;
}

/** The records of a run as a segment of plain columns. */
function recordsSegment(out: OutputBuffer, run: PlacedRun, timestamps: ArrayLike<number>): RecordsSegment {
  const n = run.rows.length;
  const seg: RecordsSegment = {
    base: run.base,
    keys: new Array(n),
    values: new Array(n),
    timestamps: new Array(n),
  };
  for (let j = 0; j < n; j++) {
    const i = run.rows[j]!;
    seg.keys[j] = out.keys?.[i] ?? null;
    seg.values[j] = out.values[i];
    seg.timestamps[j] = timestamps[i]!;
    const h = out.headersAt(i);
    if (h !== undefined) (seg.headers ??= new Array(n).fill(undefined))[j] = h;
  }
  return seg;
}

/** A segment as plain columns (an encoded one decoded). */
function plainSegment(seg: Segment): RecordsSegment {
  if (!("encoded" in seg)) return seg;
  const d = decodeRecords(seg.encoded);
  const out: RecordsSegment = {
    base: seg.base,
    keys: (d.keys ?? new Array(d.values.length).fill(null)).map((k) =>
      typeof k === "string" ? k : k === undefined || k === null ? null : String(k),
    ),
    values: d.values,
    timestamps: Array.from(d.timestamps!, (t) => t!),
  };
  if (d.headers) out.headers = d.headers;
  return out;
}

/** A segment without its first `n` records. */
function trim(encoded: Segment, n: number): RecordsSegment {
  const seg = plainSegment(encoded);
  const out: RecordsSegment = {
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
  let open: { topic: string; partition: number; seg: RecordsSegment } | undefined;
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
