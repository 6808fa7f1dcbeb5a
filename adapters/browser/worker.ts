import { expose, transferHandlers } from "comlink";
import {
  type Broker,
  type Consumer,
  describePipeline,
  type Job,
  MemoryStateStore,
  OutputBuffer,
  type Pipeline,
  type PlanDescription,
  type ProduceRecord,
  RivuletError,
  registerErrorTransfer,
  run,
  type StateStore,
} from "../../core/index.js";
import { type AdoptedColumns, type DeferredColumns, MemoryBroker } from "../../core/testing.js";
import { type DecodedRecords, decodeRecords, type EncodedRecords, isEncoded, Kind } from "./columns.js";
import { IndexedDbBroker } from "./idb-broker.js";
import { IndexedDbStateStore } from "./idb-state-store.js";
import type { RecordColumns, TopicBatch, TopicInfo, WorkerJobApi, WorkerJobOptions } from "./protocol.js";

/** A pipeline, or what makes it from the page's `params` (at `start`; it may be async). */
export type PipelineSource = Pipeline | ((params: unknown) => Pipeline | Promise<Pipeline>);

interface Subscription {
  readonly topic: string;
  readonly consumer: Consumer;
  readonly onBatch: (batch: TopicBatch) => void;
}

/**
 * The job's side of the worker: runs `pipeline` in manual mode, a slice at a time (each slice
 * ends with a commit: one IndexedDB transaction of outputs, offsets and state), feeds the
 * page's subscriptions after each slice, and waits when there is nothing to do.
 */
class WorkerJob implements WorkerJobApi {
  private job: Job | undefined;
  private plan: PlanDescription | undefined;
  private broker:
    | (Broker & { produce(t: string, r: readonly ProduceRecord[]): Promise<unknown> })
    | undefined;
  private memory: MemoryBroker | undefined;
  private options: WorkerJobOptions = {};
  private paused = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private failure: unknown;
  private readonly subscriptions = new Map<number, Subscription>();
  private nextId = 1;
  private lagWaiters: (() => void)[] = [];
  /** Produce calls whose records are stored: the slice loop compares it before and after a slice. */
  private stored = 0;
  /** The produce calls' turn to write (see `produce`). */
  private producing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pipeline: PipelineSource,
    private readonly defaults: WorkerJobOptions,
  ) {}

  async start(options: WorkerJobOptions): Promise<{ persist: boolean; restored: boolean }> {
    if (this.job) throw new RivuletError("INVALID_ARGUMENT", "the job has started already");
    const o = (this.options = { ...this.defaults, ...options });
    const persist = o.persist ?? true;
    let state: StateStore;
    if (persist) {
      const idb = await IndexedDbBroker.open({
        ...(o.database ? { name: o.database } : {}),
        ...(o.retention ? { retention: o.retention } : {}),
      });
      this.broker = idb;
      this.memory = idb.memory;
      state = new IndexedDbStateStore(idb);
    } else {
      const m = new MemoryBroker();
      this.broker = m;
      this.memory = m;
      state = new MemoryStateStore();
    }
    for (const [topic, partitions] of Object.entries(o.topics ?? {}))
      await this.broker.createTopic(topic, { partitions });
    const pipeline = typeof this.pipeline === "function" ? await this.pipeline(o.params) : this.pipeline;
    this.plan = describePipeline(pipeline, o.group ? { group: o.group } : {});
    this.job = await run(pipeline, {
      ...o.run,
      broker: this.broker,
      state,
      manual: true,
      ...(o.group ? { group: o.group } : {}),
    });
    const restored =
      (await this.broker.committed(this.job.group, Object.keys(o.topics ?? {})[0] ?? "")).length > 0;
    this.loop = this.run();
    return { persist, restored };
  }

  async produce(topic: string, batch: RecordColumns | EncodedRecords): Promise<number> {
    const broker = this.started();
    const encoded = isEncoded(batch) ? batch : undefined;
    // In memory, an encoded batch stays encoded in the topic and is decoded as the job reads it
    // (as a Kafka consumer decodes a record batch): the topic holds typed arrays and
    // dictionaries, not an object per record, and the objects the job reads die young.
    const deferred = encoded && broker === this.memory ? deferrable(encoded) : undefined;
    const c = deferred ? undefined : encoded ? decodeRecords(encoded) : (batch as RecordColumns);
    // Otherwise, in memory, the decoded columns become the topic's own (they are this call's:
    // no copy); on IndexedDB into the topic as columns (a buffer the broker appends column by
    // column; the batch is stored as the page encoded it): no object per record either way.
    const adopted =
      c && !(broker instanceof IndexedDbBroker)
        ? adoptable(c, encoded?.keys?.kind === Kind.String)
        : undefined;
    const records = c && !adopted ? outputColumns(topic, c) : undefined;
    // In the order the calls came: one that waits for the job to catch up holds back those
    // after it (otherwise a call that came later, when the lag had just dropped, would be
    // written first: seen as thousands of late records). The write itself is not awaited here:
    // the broker keeps its order, and IndexedDB writes waiting calls together.
    let written: Promise<unknown> | undefined;
    const turn = this.producing.then(async () => {
      await this.underLag();
      if (deferred) this.memory!.adoptDeferred(topic, deferred.timestamps, deferred.load);
      else if (adopted) this.memory!.adoptColumns(topic, adopted);
      else
        written =
          broker instanceof IndexedDbBroker
            ? broker.produceColumns(records!, encoded)
            : broker.commit({ records: records! });
    });
    this.producing = turn.catch(() => {});
    await turn;
    await written;
    this.stored++;
    this.wake?.();
    return encoded ? encoded.length : c!.values.length;
  }

  async subscribe(
    topic: string,
    from: "beginning" | "end",
    onBatch: (batch: TopicBatch) => void,
  ): Promise<number> {
    const memory = this.memory!;
    this.started();
    const id = this.nextId++;
    const consumer = await memory.consumer({
      group: `rivulet-subscription-${id}-${Math.random()}`,
      topics: [topic],
    });
    await consumer.poll({ maxRecords: 0 }); // takes its assignment
    if (from === "end")
      memory.endOffsets(topic).forEach((o, p) => {
        consumer.seek(topic, p, o);
      });
    this.subscriptions.set(id, { topic, consumer, onBatch });
    await this.deliver();
    return id;
  }

  async unsubscribe(id: number): Promise<void> {
    const s = this.subscriptions.get(id);
    this.subscriptions.delete(id);
    await s?.consumer.close();
  }

  async records(topic: string) {
    return this.memory!.records(topic);
  }

  async topics(): Promise<TopicInfo[]> {
    const job = this.started(true);
    const memory = this.memory!;
    const out: TopicInfo[] = [];
    for (const name of memory.listTopics().sort()) {
      const endOffsets = memory.endOffsets(name);
      const committed: (number | undefined)[] = endOffsets.map(() => undefined);
      for (const c of await memory.committed(job.group, name)) committed[c.partition] = c.offset;
      out.push({
        name,
        partitions: endOffsets.length,
        startOffsets: memory.startOffsets(name),
        endOffsets,
        group: {
          name: job.group,
          committed,
          lag: endOffsets.map((end, p) =>
            committed[p] === undefined ? end : Math.max(0, end - committed[p]!),
          ),
        },
      });
    }
    return out;
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    await this.started().createTopic(name, { partitions });
  }

  async describe(): Promise<PlanDescription> {
    this.started(true);
    return this.plan!;
  }

  async metrics() {
    return this.started(true).metrics();
  }

  async checkpoint(): Promise<void> {
    await this.started(true).checkpoint();
  }

  async query(key: string | number) {
    return this.started(true).query(key);
  }

  async pause(): Promise<void> {
    this.paused = true;
  }

  async resume(): Promise<void> {
    this.paused = false;
    this.wake?.();
  }

  async step(): Promise<number> {
    const { records } = await this.started(true).runFor({ maxRecords: this.options.run?.maxBatch ?? 1000 });
    await this.deliver();
    return records;
  }

  async drain(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.started(true).drain();
    await this.deliver();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.started(true).stop();
  }

  /** The slice loop: process, commit, hand outputs to the page; wait when idle or paused. */
  private async run(): Promise<void> {
    const job = this.job!;
    const slice = this.options.sliceMs ?? 50;
    try {
      while (!this.stopped) {
        if (this.paused) {
          await this.idle(60_000);
          continue;
        }
        const stored = this.stored;
        const { caughtUp } = await job.runFor({ maxMs: slice });
        await this.deliver();
        this.releaseLag();
        // The page's calls that came during the slice get in (they are stored before the next).
        await nextTurn();
        // Caught up, and nothing stored since the slice began: wait for input (processing-time
        // timers and idle timeouts need a turn now and then). Not another slice first: it would
        // read nothing and still take a checkpoint.
        if (caughtUp && this.stored === stored) await this.idle(this.options.run?.pollInterval ?? 200);
      }
    } catch (e) {
      this.failure = e;
      this.releaseLag();
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** New records of subscribed topics, a batch per partition, to the page. */
  private async deliver(): Promise<void> {
    for (const s of this.subscriptions.values())
      for (;;) {
        const batches = await s.consumer.poll({ maxRecords: 10_000 });
        let n = 0;
        for (const b of batches) {
          const len = b.end - b.start;
          if (len === 0) continue;
          n += len;
          const at = <T>(col: ArrayLike<T> | undefined, fill: T): T[] => {
            const out: T[] = new Array(len);
            for (let i = 0; i < len; i++) out[i] = col === undefined ? fill : col[b.start + i]!;
            return out;
          };
          s.onBatch({
            topic: b.topic,
            partition: b.partition,
            offsets: Array.from({ length: len }, (_, i) =>
              b.offsets ? b.offsets[b.start + i]! : b.firstOffset + i,
            ),
            values: at(b.values, undefined as unknown),
            timestamps: at(b.timestamps, 0),
            keys: at(b.keys, null),
            headers: at<import("../../core/index.js").Headers | undefined>(b.headers, undefined),
          });
        }
        if (n === 0) break;
      }
  }

  /** Back-pressure: waits while the job is more than `maxLag` records behind its input. */
  private async underLag(): Promise<void> {
    const max = this.options.maxLag ?? 100_000;
    while (!this.failure && !this.stopped && this.lag() > max)
      await new Promise<void>((r) => this.lagWaiters.push(r));
  }

  private lag(): number {
    if (!this.job) return 0;
    return this.job.metrics().partitions.reduce((n, p) => n + p.lag, 0);
  }

  private releaseLag(): void {
    const ws = this.lagWaiters;
    this.lagWaiters = [];
    for (const w of ws) w();
  }

  private started(): typeof this.broker & object;
  private started(job: true): Job;
  private started(job?: true): unknown {
    if (this.failure) throw this.failure;
    if (!this.job || !this.broker)
      throw new RivuletError("INVALID_ARGUMENT", "the job has not started: call start() first");
    return job ? this.job : this.broker;
  }
}

let turns: { port: MessagePort; waiting: (() => void)[] } | undefined;

/**
 * A turn of the event loop (the page's calls get in) without `setTimeout(0)`: timers set from
 * timers are clamped to 4 ms after five levels, and the slice loop, which yields after every
 * slice, would spend most of its time waiting (measured: a third of the worker's time idle
 * while the page fed it). A message to itself is not clamped.
 */
function nextTurn(): Promise<void> {
  if (!turns) {
    const channel = new MessageChannel();
    const waiting: (() => void)[] = [];
    channel.port1.onmessage = () => waiting.shift()?.();
    turns = { port: channel.port2, waiting };
  }
  const t = turns;
  return new Promise((resolve) => {
    t.waiting.push(resolve);
    t.port.postMessage(null);
  });
}

/**
 * An encoded batch as the in-memory broker keeps it (`MemoryBroker.adoptDeferred`): its
 * timestamps column, and what decodes the rest each time the job reads it; or undefined when
 * some record has no timestamp or names its partition (then it is decoded now, as before).
 */
function deferrable(
  e: EncodedRecords,
): { timestamps: Int32Array | Float64Array; load: () => DeferredColumns } | undefined {
  const ts = e.timestamps;
  if (e.partitions !== undefined || ts?.kind !== Kind.Number || ts.numbers === undefined) return undefined;
  const stringKeys = e.keys?.kind === Kind.String;
  return {
    timestamps: ts.numbers,
    load: () => {
      const d = decodeRecords(e);
      const out: DeferredColumns = { values: d.values };
      if (d.keys !== undefined) out.keys = stringKeyColumn(d.keys, stringKeys);
      if (d.headers !== undefined) out.headers = d.headers;
      return out;
    },
  };
}

/** Keys as the broker stores them (strings or null), in place (`strings`: they are already). */
function stringKeyColumn(keys: unknown[], strings: boolean): (string | null)[] {
  if (!strings)
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== "string" && k !== null) keys[i] = k === undefined ? null : String(k);
    }
  return keys as (string | null)[];
}

/**
 * Produced columns as the in-memory broker adopts them (`MemoryBroker.adoptColumns`), or
 * undefined when some record names its partition (the broker's checks then apply). The
 * columns are this call's own (decoded or structured-cloned from the message), so keys are made
 * what the broker stores and missing timestamps NaN (its clock) in place (`stringKeys`: the keys
 * were decoded from a column of strings only, nothing to make).
 */
function adoptable(c: DecodedRecords | RecordColumns, stringKeys: boolean): AdoptedColumns | undefined {
  const { values, keys, timestamps, headers, partitions } = c;
  const n = values.length;
  // Columns of other lengths than the values (plain columns made by hand) go the old way.
  if (
    partitions?.some((p) => p !== undefined) ||
    (timestamps !== undefined && timestamps.length !== n) ||
    (keys !== undefined && keys.length !== n) ||
    (headers !== undefined && headers.length !== n)
  )
    return undefined;
  let ts: Float64Array | Int32Array | number[];
  if (timestamps === undefined) ts = new Float64Array(n).fill(Number.NaN);
  else if (!Array.isArray(timestamps)) ts = timestamps as Float64Array | Int32Array;
  else {
    for (let i = 0; i < n; i++) if (typeof timestamps[i] !== "number") timestamps[i] = Number.NaN;
    ts = timestamps as number[];
  }
  const ks = keys === undefined ? undefined : stringKeyColumn(keys as unknown[], stringKeys);
  const out: AdoptedColumns = { values, timestamps: ts, keys: ks };
  if (headers !== undefined) out.headers = headers;
  return out;
}

/** Produced records as a transaction's buffer: keys as the broker stores them, NaN for no timestamp. */
function outputColumns(topic: string, c: DecodedRecords | RecordColumns): OutputBuffer {
  const out = new OutputBuffer();
  const { values, keys, timestamps, headers, partitions } = c;
  for (let i = 0, n = values.length; i < n; i++) {
    const k = keys?.[i];
    const ts = timestamps?.[i];
    if (ts === undefined) out.unstamped = true;
    out.push(
      topic,
      typeof k === "string" ? k : k === undefined || k === null ? null : String(k),
      values[i],
      ts ?? Number.NaN,
      headers?.[i],
    );
  }
  if (partitions?.some((p) => p !== undefined)) out.partitions = [...partitions];
  return out;
}

/**
 * In a module Web Worker: runs `pipeline` (imported by the worker module itself: functions never
 * cross threads), or the pipeline a factory makes from the page's `params`, and answers the
 * page's handle ({@link startWorker}) through Comlink.
 *
 * @example
 * // job.worker.ts
 * import { exposeJob } from "rivulet/browser";
 * import { perMinute } from "./pipeline.js";
 * exposeJob(perMinute, { topics: { clicks: 1 } });
 */
export function exposeJob(pipeline: PipelineSource, options: WorkerJobOptions = {}): void {
  registerErrorTransfer(transferHandlers);
  expose(new WorkerJob(pipeline, options));
}
