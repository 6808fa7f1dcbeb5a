/**
 * Rivulet: one typed pipeline definition (map, filter, keyBy, event-time windows with watermarks,
 * joins, keyed state, timers) that runs unchanged on Kafka, edge workers, browsers and in memory.
 *
 * @example
 * import { Pipeline, run, tumbling, count } from "rivulet";
 * const perMinute = Pipeline.source<Click>("clicks", { timestamp: (c) => c.ts })
 *   .keyBy((c) => c.userId).window(tumbling(60_000)).aggregate(count()).to("clicks-per-minute");
 * const job = await run(perMinute, { broker });
 *
 * @module
 */
export type {
  Broker,
  BrokerCapabilities,
  CommitResult,
  CommittedOffset,
  Consumer,
  ConsumerOptions,
  OutgoingRecord,
  PartitionBatch,
  RebalanceEvent,
  TopicOptions,
  Transaction,
} from "./broker/broker.js";
export { FULL_CAPABILITIES, topicNameProblem } from "./broker/broker.js";
export { murmur2, partitionForKey } from "./broker/partitioner.js";
export {
  batchOf,
  batchRecords,
  columnBatch,
  ID_HEADER,
  OutputBuffer,
  offsetAt,
  outputOf,
  recordAt,
} from "./broker/records.js";
export {
  describe as describeError,
  deserializeError,
  type ErrorCode,
  errorTransferHandler,
  isRivuletError,
  PipelineError,
  RivuletError,
  registerErrorTransfer,
  type SerializedError,
  serializeError,
  UserFunctionError,
} from "./errors.js";
export {
  type AggregateResult,
  type Aggregator,
  type AggregatorSpec,
  avg,
  count,
  max,
  min,
  sum,
  topN,
} from "./operators/aggregators.js";
export {
  type IntervalJoinOptions,
  isPipeline,
  KeyedStream,
  Pipeline,
  ProcessedStream,
  type SinkOptions,
  type SourceOptions,
  Stream,
  type WindowedStream,
  type WindowJoinOptions,
  type WindowOptions,
} from "./pipeline/builder.js";
export {
  type OutputTag,
  outputTag,
  type ProcessContext,
  type ProcessFunction,
  type Timers,
  type WatermarkOptions,
} from "./pipeline/plan.js";
export type { CheckpointStats, CommitProtocol, Guarantee } from "./runtime/checkpointer.js";
export type { ErrorPolicy } from "./runtime/context.js";
export { describePipeline, type PlanDescription, type PlanStep } from "./runtime/describe.js";
export type { OperatorWatermark } from "./runtime/executor.js";
export {
  Job,
  type JobMetrics,
  type JobStatus,
  type PartitionMetrics,
  type RunForResult,
  type RunOptions,
  run,
} from "./runtime/job.js";
export type { Limits } from "./runtime/limits.js";
export { LimitError } from "./runtime/limits.js";
export { checkMetricLabels, type MetricLabels, prometheusText } from "./runtime/prometheus.js";
export type { RetryOptions } from "./runtime/retry.js";
export type { TaskMode } from "./runtime/tasks.js";
export { bytes, json, type Serde, text } from "./serde.js";
export { decodeSnapshot, encodeSnapshot } from "./state/codec.js";
export {
  type ListState,
  type ListStateDescriptor,
  listState,
  type MapState,
  type MapStateDescriptor,
  mapState,
  type ValueState,
  type ValueStateDescriptor,
  valueState,
} from "./state/descriptors.js";
export { type Checkpoint, MemoryStateStore, type StateStore } from "./state/store.js";
export { type Clock, systemClock } from "./time/clock.js";
export { session, sliding, tumbling, type WindowSpec } from "./time/windows.js";
export type {
  Headers,
  Key,
  KeyedValue,
  ProduceRecord,
  StoredRecord,
  TopicPartition,
  WindowResult,
} from "./types.js";
