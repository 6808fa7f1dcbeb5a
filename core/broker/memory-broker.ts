import { RivuletError } from "../errors.js";
import type { Headers, ProduceRecord, StoredRecord, TopicPartition } from "../types.js";
import type {
  Broker,
  BrokerCapabilities,
  CommittedOffset,
  Consumer,
  ConsumerOptions,
  RebalanceEvent,
  TopicOptions,
  Transaction,
} from "./broker.js";
import { FULL_CAPABILITIES, topicNameProblem } from "./broker.js";
import { type DeferredColumns, MemoryLog } from "./memory-log.js";
import { partitionForKey } from "./partitioner.js";
import { outputOf, type PartitionBatch } from "./records.js";

interface Topic {
  name: string;
  compact: boolean;
  logs: MemoryLog[];
  roundRobin: number;
}

interface Group {
  committed: Map<string, CommittedOffset>;
  members: MemoryConsumer[];
  generation: number;
}

/** Records in columns, handed over to {@link MemoryBroker.adoptColumns}. */
export interface AdoptedColumns {
  values: unknown[];
  /** Event times; NaN: the broker's clock. */
  timestamps: Float64Array | Int32Array | number[];
  /** Keys (absent: all null). */
  keys?: (string | null)[] | undefined;
  headers?: (Headers | undefined)[] | undefined;
}

/** Whether no timestamp is NaN (the broker's clock): an Int32Array holds none. */
function stamped(timestamps: Float64Array | Int32Array | number[]): boolean {
  if (timestamps instanceof Int32Array) return true;
  for (let i = 0; i < timestamps.length; i++) if (Number.isNaN(timestamps[i])) return false;
  return true;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * What a {@link MemoryBroker} promises; by default everything Kafka's transactions do. Less
 * makes it behave like a broker reached through a Kafka REST proxy, so that the at-least-once
 * commit protocol and its deterministic output ids can be tested in memory.
 */
export type MemoryBrokerOptions = Partial<BrokerCapabilities>;

/** The capabilities of a Kafka REST proxy: no transactions, no offset metadata, no rebalances. */
export const REST_PROXY_CAPABILITIES: BrokerCapabilities = Object.freeze({
  atomicCommit: false,
  commitMetadata: false,
  assignment: "static",
});

/**
 * Topics that behave like Kafka's, in memory: partitions, offsets, keys, headers, timestamps,
 * consumer groups with committed offsets and range assignment, a murmur2 key partitioner, and
 * atomic transactions. Values are stored as given (no serialization).
 *
 * @example
 * const broker = new MemoryBroker();
 * await broker.createTopic("clicks", { partitions: 3 });
 * await broker.produce("clicks", [{ key: "u1", value: { userId: "u1" }, timestamp: 1000 }]);
 * const all = await broker.records("clicks");
 * // As a REST proxy would be: at-least-once outputs with ids, the state store owns the offsets.
 * const proxied = new MemoryBroker(REST_PROXY_CAPABILITIES);
 */
export class MemoryBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private waiters = new Set<() => void>();
  /** The broker's wall clock, for records produced without a timestamp. */
  now: () => number = () => Date.now();

  constructor(options: MemoryBrokerOptions = {}) {
    this.capabilities = Object.freeze({ ...FULL_CAPABILITIES, ...options });
  }

  async createTopic(name: string, options: TopicOptions = {}): Promise<void> {
    this.createTopicSync(name, options);
  }

  /** Synchronous form of {@link createTopic}, handy in tests and the playground. */
  createTopicSync(name: string, options: TopicOptions = {}): void {
    const problem = topicNameProblem(name);
    if (problem) throw new RivuletError("INVALID_ARGUMENT", problem);
    const partitions = options.partitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new RivuletError("INVALID_ARGUMENT", `topic "${name}": partitions must be a positive integer`);
    if (this.topics.has(name)) return;
    const logs: MemoryLog[] = [];
    for (let p = 0; p < partitions; p++) logs.push(new MemoryLog());
    this.topics.set(name, { name, compact: options.compact ?? false, logs, roundRobin: 0 });
  }

  async partitions(topic: string): Promise<number | undefined> {
    return this.topics.get(topic)?.logs.length;
  }

  listTopics(): string[] {
    return [...this.topics.keys()];
  }

  /** Appends records; returns them as stored (with partition and offset). */
  async produce<V>(topic: string, records: readonly ProduceRecord<V>[]): Promise<StoredRecord<V>[]> {
    return this.produceSync(topic, records);
  }

  produceSync<V>(topic: string, records: readonly ProduceRecord<V>[]): StoredRecord<V>[] {
    const t = this.topic(topic);
    const out = records.map((r) => this.append(t, r)) as StoredRecord<V>[];
    this.wake();
    return out;
  }

  /**
   * Appends records given in columns, handing the columns over: in a one-partition topic, when
   * every record has its timestamp, they become the log's own (no copy; see `MemoryLog.adopt`),
   * so the caller must not change them afterwards. Otherwise each record is placed as `produce`
   * places it (murmur2 of the key, or round robin; NaN timestamps: the broker's clock). The
   * same records as `produce` would store, without an object per record: for columns decoded
   * from a message (the browser worker's `produce`).
   *
   * @example
   * broker.adoptColumns("clicks", { values: [{ userId: "u1" }], timestamps: new Float64Array([1000]), keys: ["u1"] });
   */
  adoptColumns(topic: string, columns: AdoptedColumns): void {
    const t = this.topic(topic);
    const { values, timestamps, keys, headers } = columns;
    const n = values.length;
    if (
      timestamps.length !== n ||
      (keys !== undefined && keys.length !== n) ||
      (headers !== undefined && headers.length !== n)
    )
      throw new RivuletError("INVALID_ARGUMENT", "adoptColumns: columns of different lengths");
    if (t.logs.length === 1 && stamped(timestamps)) t.logs[0]!.adopt(values, timestamps, keys, headers);
    else
      for (let i = 0; i < n; i++) {
        const key = keys?.[i] ?? null;
        const ts = timestamps[i]!;
        t.logs[this.partitionFor(t, key)]!.append(
          key,
          values[i],
          Number.isNaN(ts) ? this.now() : ts,
          headers?.[i],
        );
      }
    if (n > 0) this.wake();
  }

  /**
   * Appends `timestamps.length` records whose values, keys and headers `load` makes when they are
   * read: a batch kept as it came (the browser worker's encoded columns), decoded as consumers
   * read it, as Kafka's consumers decode a record batch. In a one-partition topic, when every
   * record has its timestamp, the log keeps the batch so (`MemoryLog.adoptDeferred`: it makes the
   * columns of the few chunks read last, again when read after that); otherwise `load` runs now
   * and the records are placed as {@link adoptColumns} places them. `load` must make equal
   * columns each time; the timestamps are handed over.
   *
   * @example
   * broker.adoptDeferred("clicks", new Float64Array([1000]), () => ({ values: [{ userId: "u1" }], keys: ["u1"] }));
   */
  adoptDeferred(
    topic: string,
    timestamps: Float64Array | Int32Array | number[],
    load: () => DeferredColumns,
  ): void {
    const t = this.topic(topic);
    if (t.logs.length === 1 && stamped(timestamps)) {
      t.logs[0]!.adoptDeferred(timestamps, load);
      if (timestamps.length > 0) this.wake();
    } else this.adoptColumns(topic, { ...load(), timestamps });
  }

  /** Every record of a topic, partition by partition, in offset order. */
  async records<V = unknown>(topic: string): Promise<StoredRecord<V>[]> {
    return this.recordsSync<V>(topic);
  }

  recordsSync<V = unknown>(topic: string): StoredRecord<V>[] {
    const t = this.topic(topic);
    const out: StoredRecord<V>[] = [];
    t.logs.forEach((log, p) => {
      for (let o = log.start; o < log.length; o++) out.push(log.record(t.name, p, o) as StoredRecord<V>);
    });
    return out;
  }

  /**
   * Retention: drops records of `topic` below `offsets[p]` in each partition p (a whole chunk of
   * the log at a time; see `MemoryLog.dropBefore`). Returns each partition's new start offset.
   */
  dropBefore(topic: string, offsets: readonly number[]): number[] {
    return this.topic(topic).logs.map((log, p) => {
      const o = offsets[p];
      if (o !== undefined) log.dropBefore(o);
      return log.start;
    });
  }

  /**
   * Starts an empty partition at `offset` (topics restored from storage after retention cut
   * them: the next record produced there gets `offset`).
   */
  startAt(topic: string, partition: number, offset: number): void {
    const t = this.topic(topic);
    this.checkPartition(t, partition);
    t.logs[partition]!.startAt(offset);
  }

  /** Start offset (first record still held) of each partition. */
  startOffsets(topic: string): number[] {
    return this.topic(topic).logs.map((l) => l.start);
  }

  /** End offset (next offset to be written) of each partition. */
  endOffsets(topic: string): number[] {
    return this.topic(topic).logs.map((l) => l.length);
  }

  async commit(tx: Transaction): Promise<void> {
    // Validate everything first so a failing transaction leaves no trace (atomicity).
    // Outputs come in runs of one topic: look each run's topic up once.
    const out = outputOf(tx.records);
    const { keys, values, timestamps, headers, partitions, ids } = out;
    for (let r = 0; r < out.runs; r++) {
      const t = this.topic(out.runTopic(r));
      if (partitions !== undefined)
        for (let i = out.runStart(r), end = out.runEnd(r); i < end; i++)
          this.checkPartition(t, partitions[i]);
    }
    const offsets = tx.offsets;
    if (offsets) for (const p of offsets.positions) this.checkPartition(this.topic(p.topic), p.partition);
    for (let r = 0; r < out.runs; r++) {
      const t = this.topics.get(out.runTopic(r))!;
      const start = out.runStart(r);
      const end = out.runEnd(r);
      // The common case: a run for a one-partition topic, copied column by column.
      if (t.logs.length === 1 && partitions === undefined && !out.unstamped && ids === undefined) {
        t.logs[0]!.appendColumns(start, end, values, timestamps, keys, headers);
        continue;
      }
      for (let i = start; i < end; i++) {
        const key = keys?.[i] ?? null;
        const log = t.logs[partitions?.[i] ?? this.partitionFor(t, key)]!;
        const ts = timestamps[i]!;
        log.append(key, values[i], Number.isNaN(ts) ? this.now() : ts, out.headersAt(i));
      }
    }
    if (offsets) {
      const g = this.group(offsets.group);
      const keep = this.capabilities.commitMetadata;
      for (const p of offsets.positions)
        g.committed.set(
          tpKey(p.topic, p.partition),
          keep || p.metadata === undefined
            ? { ...p }
            : { topic: p.topic, partition: p.partition, offset: p.offset },
        );
    }
    if (out.length > 0) this.wake();
  }

  async committed(group: string, topic: string): Promise<CommittedOffset[]> {
    const g = this.groups.get(group);
    if (!g) return [];
    return [...g.committed.values()].filter((c) => c.topic === topic).map((c) => ({ ...c }));
  }

  async consumer(options: ConsumerOptions): Promise<Consumer> {
    for (const t of options.topics) this.topic(t);
    const g = this.group(options.group);
    const c = new MemoryConsumer(this, g, options.topics);
    if (this.capabilities.assignment === "static") {
      // Not a member of anything: it reads what it is given, and no one else is told.
      const given = options.partitions ?? options.topics.flatMap((t) => this.allPartitions(t));
      for (const tp of given) this.checkPartition(this.topic(tp.topic), tp.partition);
      c.setPending([...given]);
      return c;
    }
    g.members.push(c);
    this.rebalance(g);
    return c;
  }

  /** @internal */
  leave(g: Group, c: MemoryConsumer): void {
    if (!g.members.includes(c)) return;
    g.members = g.members.filter((m) => m !== c);
    this.rebalance(g);
  }

  private allPartitions(topic: string): TopicPartition[] {
    return this.topic(topic).logs.map((_, partition) => ({ topic, partition }));
  }

  /** @internal The log of a partition (itself: topics and partitions never go away). */
  log(tp: TopicPartition): MemoryLog {
    return this.topic(tp.topic).logs[tp.partition]!;
  }

  /** @internal */
  committedSync(g: Group, tp: TopicPartition): number | undefined {
    return g.committed.get(tpKey(tp.topic, tp.partition))?.offset;
  }

  /** @internal resolves on the next produce or commit with records. */
  onData(resolve: () => void): () => void {
    this.waiters.add(resolve);
    return () => this.waiters.delete(resolve);
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  // Range assignment over the sorted partitions of every subscribed topic.
  private rebalance(g: Group): void {
    g.generation++;
    const all = new Map<string, TopicPartition>();
    for (const m of g.members)
      for (const t of m.topics) {
        const n = this.topic(t).logs.length;
        for (let p = 0; p < n; p++) all.set(tpKey(t, p), { topic: t, partition: p });
      }
    const owners = new Map<MemoryConsumer, TopicPartition[]>(g.members.map((m) => [m, []]));
    const byTopic = new Map<string, TopicPartition[]>();
    for (const tp of all.values()) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp]);
    for (const [topic, tps] of byTopic) {
      const members = g.members.filter((m) => m.topics.includes(topic));
      const per = Math.floor(tps.length / members.length);
      const extra = tps.length % members.length;
      let i = 0;
      members.forEach((m, mi) => {
        const n = per + (mi < extra ? 1 : 0);
        owners.get(m)!.push(...tps.slice(i, i + n));
        i += n;
      });
    }
    for (const [m, tps] of owners) m.setPending(tps);
  }

  private topic(name: string): Topic {
    const t = this.topics.get(name);
    if (!t) throw new RivuletError("UNKNOWN_TOPIC", `topic "${name}" does not exist`);
    return t;
  }

  private group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      g = { committed: new Map(), members: [], generation: 0 };
      this.groups.set(name, g);
    }
    return g;
  }

  private checkPartition(t: Topic, partition: number | undefined): void {
    if (
      partition !== undefined &&
      !(Number.isInteger(partition) && partition >= 0 && partition < t.logs.length)
    )
      throw new RivuletError("INVALID_ARGUMENT", `topic "${t.name}" has no partition ${partition}`);
  }

  /** Stores a produced record; returns it as stored. */
  private append(t: Topic, r: ProduceRecord): StoredRecord {
    this.checkPartition(t, r.partition);
    const key = storedKey(r.key);
    const partition = r.partition ?? this.partitionFor(t, key);
    const log = t.logs[partition]!;
    const offset = log.length;
    log.append(key, r.value, r.timestamp ?? this.now(), r.headers ? { ...r.headers } : undefined);
    return log.record(t.name, partition, offset);
  }

  private partitionFor(t: Topic, key: string | null): number {
    const n = t.logs.length;
    return n === 1 ? 0 : key === null ? t.roundRobin++ % n : partitionForKey(key, n);
  }
}

const storedKey = (key: string | null | undefined): string | null =>
  typeof key === "string" ? key : key === undefined || key === null ? null : String(key);

/** An assigned partition: its log and the next offset to read. */
interface Cursor {
  readonly topic: string;
  readonly partition: number;
  readonly log: MemoryLog;
  offset: number;
}

class MemoryConsumer implements Consumer {
  private assigned: TopicPartition[] = [];
  /** Cursors of the assigned partitions, by `tpKey`, and in assignment order. */
  private positions = new Map<string, Cursor>();
  private cursors: Cursor[] = [];
  private pending: TopicPartition[] | undefined;
  private listeners: ((e: RebalanceEvent) => void | Promise<void>)[] = [];
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly g: Group,
    readonly topics: readonly string[],
  ) {}

  /** @internal */
  setPending(tps: TopicPartition[]): void {
    this.pending = tps;
  }

  assignment(): readonly TopicPartition[] {
    return this.assigned;
  }

  onRebalance(listener: (event: RebalanceEvent) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async poll({ maxRecords }: { maxRecords: number }): Promise<PartitionBatch[]> {
    if (this.closed) throw new RivuletError("JOB_STOPPED", "consumer is closed");
    if (this.pending) await this.applyRebalance(this.pending);
    const cursors = this.cursors;
    const out: PartitionBatch[] = new Array(cursors.length);
    for (let i = 0; i < cursors.length; i++) {
      const c = cursors[i]!;
      const b = c.log.batch(c.topic, c.partition, c.offset, maxRecords);
      // From the log start, when retention dropped what was below it.
      c.offset = b.firstOffset + (b.end - b.start);
      out[i] = b;
    }
    return out;
  }

  atEnd(): boolean {
    if (this.pending) return false;
    for (const c of this.cursors) if (c.offset < c.log.length) return false;
    return true;
  }

  seek(topic: string, partition: number, offset: number): void {
    const c = this.positions.get(tpKey(topic, partition));
    if (!c)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `partition ${topic}[${partition}] is not assigned to this consumer`,
      );
    c.offset = offset;
  }

  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        off();
        resolve();
      };
      const off = this.broker.onData(finish);
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broker.leave(this.g, this);
  }

  private async applyRebalance(next: TopicPartition[]): Promise<void> {
    this.pending = undefined;
    const nextKeys = new Set(next.map((tp) => tpKey(tp.topic, tp.partition)));
    const oldKeys = new Set(this.assigned.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.assigned.filter((tp) => !nextKeys.has(tpKey(tp.topic, tp.partition)));
    const assigned = next.filter((tp) => !oldKeys.has(tpKey(tp.topic, tp.partition)));
    if (revoked.length === 0 && assigned.length === 0) return;
    for (const tp of revoked) this.positions.delete(tpKey(tp.topic, tp.partition));
    this.assigned = next;
    for (const tp of assigned)
      this.positions.set(tpKey(tp.topic, tp.partition), {
        topic: tp.topic,
        partition: tp.partition,
        log: this.broker.log(tp),
        offset: this.broker.committedSync(this.g, tp) ?? 0,
      });
    this.cursors = next.map((tp) => this.positions.get(tpKey(tp.topic, tp.partition))!);
    for (const l of this.listeners) await l({ assigned, revoked });
  }
}
