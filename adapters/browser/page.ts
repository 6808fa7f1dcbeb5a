import { proxy, type Remote, transfer, transferHandlers, wrap } from "comlink";
import {
  type Headers,
  type JobMetrics,
  type PlanDescription,
  type ProduceRecord,
  RivuletError,
  registerErrorTransfer,
  type StoredRecord,
} from "../../core/index.js";
import { encodeRecords } from "./columns.js";
import type { RecordColumns, TopicBatch, TopicInfo, WorkerJobApi, WorkerJobOptions } from "./protocol.js";

/** The page's handle on a job running in a Web Worker. Plain promises and callbacks: any framework. */
export interface WorkerJobHandle {
  /** Whether topics and state are in IndexedDB, and whether the job found a commit to go on from. */
  readonly started: { persist: boolean; restored: boolean };
  /**
   * Writes records to a topic; resolves once the worker has stored them (in IndexedDB when
   * persistent). When the job lags behind by more than `maxLag` records it resolves only once
   * the job has caught up that far: a producer that outruns the worker is slowed down.
   */
  produce(topic: string, records: readonly ProduceRecord[]): Promise<number>;
  /** Outputs pushed to the page in batches (one call per partition and slice), from now or the beginning. */
  subscribe(
    topic: string,
    onBatch: (batch: TopicBatch) => void,
    from?: "beginning" | "end",
  ): Promise<() => Promise<void>>;
  records<V = unknown>(topic: string): Promise<StoredRecord<V>[]>;
  /** Every topic in the worker: partitions, start and end offsets, the job's committed offsets and lag. */
  topics(): Promise<TopicInfo[]>;
  /** Creates a topic in the worker's broker (quietly, when it exists). */
  createTopic(name: string, partitions?: number): Promise<void>;
  /** The job's pipeline as plain data: steps, operator ids, sources and outputs. */
  describe(): Promise<PlanDescription>;
  metrics(): Promise<JobMetrics>;
  checkpoint(): Promise<void>;
  query(key: string | number): Promise<Record<string, unknown>>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** One step while paused. */
  step(): Promise<number>;
  /** Processes what is there, fires every window, commits, stops. */
  drain(): Promise<void>;
  /** Commits and stops. */
  stop(): Promise<void>;
  /** Kills the worker at once, as a crash would: only what was committed survives. */
  terminate(): void;
  readonly worker: Worker;
}

export interface StartWorkerOptions extends WorkerJobOptions {
  /** Passed to the Worker (default `{ type: "module" }`). */
  workerOptions?: WorkerOptions;
}

/**
 * Starts a job in a module Web Worker (the worker module calls `exposeJob`) and returns its
 * handle. The URL form is Vite's (and other bundlers'):
 * `new URL("./job.worker.ts", import.meta.url)`. Errors keep their class, code and `retriable`
 * across the boundary; a worker that fails to load, or dies, rejects every pending call with a
 * clear error.
 *
 * @example
 * const job = await startWorker(new URL("./job.worker.ts", import.meta.url), { database: "clicks" });
 * await job.subscribe("clicks-per-minute", (b) => render(b.values));
 * await job.produce("clicks", [{ key: "u1", value: { userId: "u1", ts: Date.now() }, timestamp: Date.now() }]);
 */
export async function startWorker(
  url: URL | string,
  options: StartWorkerOptions = {},
): Promise<WorkerJobHandle> {
  registerErrorTransfer(transferHandlers);
  const { workerOptions, ...jobOptions } = options;
  const worker = new Worker(url, workerOptions ?? { type: "module" });
  let dead: RivuletError | undefined;
  let onDeath: (e: RivuletError) => void = () => {};
  const death = new Promise<never>((_, reject) => {
    onDeath = reject;
  });
  death.catch(() => {});
  worker.addEventListener("error", (e: ErrorEvent) => {
    e.preventDefault();
    dead ??= new RivuletError(
      "INVALID_ARGUMENT",
      `the job's worker failed: ${e.message || "its module could not be loaded (see the worker's console)"}`,
    );
    onDeath(dead);
  });
  const api: Remote<WorkerJobApi> = wrap<WorkerJobApi>(worker);
  const call = <T>(p: Promise<T>): Promise<T> => (dead ? Promise.reject(dead) : Promise.race([p, death]));
  const started = await call(api.start(jobOptions));
  return {
    started,
    worker,
    produce(topic, records) {
      // Typed arrays and a dictionary of strings, transferred: see columns.ts.
      const buffers: ArrayBuffer[] = [];
      const batch = encodeRecords(records, buffers);
      return call(api.produce(topic, transfer(batch, buffers)));
    },
    async subscribe(topic, onBatch, from = "end") {
      const id = await call(api.subscribe(topic, from, proxy(onBatch)));
      return () => call(api.unsubscribe(id));
    },
    records: <V>(topic: string) => call(api.records(topic)) as Promise<StoredRecord<V>[]>,
    topics: () => call(api.topics()),
    createTopic: (name, partitions = 1) => call(api.createTopic(name, partitions)),
    describe: () => call(api.describe()),
    metrics: () => call(api.metrics()),
    checkpoint: () => call(api.checkpoint()),
    query: (key) => call(api.query(key)),
    pause: () => call(api.pause()),
    resume: () => call(api.resume()),
    step: () => call(api.step()),
    drain: () => call(api.drain()),
    stop: () => call(api.stop()),
    terminate() {
      worker.terminate();
      dead ??= new RivuletError("JOB_STOPPED", "the job's worker was terminated");
      onDeath(dead);
    },
  };
}

/** Records as columns: one structured clone of a few arrays instead of an object per record. */
export function columns(records: readonly ProduceRecord[]): RecordColumns {
  const n = records.length;
  const out: RecordColumns = { values: new Array(n) };
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    out.values[i] = r.value;
    if (r.key !== undefined && r.key !== null) (out.keys ??= new Array(n).fill(null))[i] = r.key;
    if (r.timestamp !== undefined) (out.timestamps ??= new Array(n).fill(undefined))[i] = r.timestamp;
    if (r.headers !== undefined)
      (out.headers ??= new Array<Headers | undefined>(n).fill(undefined))[i] = r.headers;
    if (r.partition !== undefined) (out.partitions ??= new Array(n).fill(undefined))[i] = r.partition;
  }
  return out;
}
