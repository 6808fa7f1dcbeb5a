/**
 * Rivulet in browsers: a pipeline in a Web Worker (Comlink) with its topics, offsets and
 * checkpoints in IndexedDB (idb), exactly-once in the page: a commit is one IndexedDB
 * transaction of outputs, offsets and state.
 *
 * @example
 * // job.worker.ts
 * import { exposeJob } from "rivulet/browser";
 * exposeJob(perMinute, { topics: { clicks: 1 } });
 * // page
 * import { startWorker } from "rivulet/browser";
 * const job = await startWorker(new URL("./job.worker.ts", import.meta.url));
 * await job.subscribe("clicks-per-minute", (batch) => render(batch.values));
 *
 * @module
 */
export {
  type CheckpointWriter,
  IndexedDbBroker,
  type IndexedDbBrokerOptions,
  type Retention,
  type RivuletDB,
} from "./idb-broker.js";
export { IndexedDbStateStore } from "./idb-state-store.js";
export { columns, type StartWorkerOptions, startWorker, type WorkerJobHandle } from "./page.js";
export type { RecordColumns, TopicBatch, TopicInfo, WorkerJobApi, WorkerJobOptions } from "./protocol.js";
export {
  type BrokerFeed,
  type BrokerFeedOptions,
  type Feed,
  type FeedOptions,
  fromBroker,
  fromEventSource,
  fromWebSocket,
} from "./sources.js";
export { exposeJob, type PipelineSource } from "./worker.js";
