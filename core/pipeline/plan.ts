import type { Aggregator } from "../operators/aggregators.js";
import type {
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from "../state/descriptors.js";
import type { WindowSpec } from "../time/windows.js";
import type { Key, StoredRecord } from "../types.js";

/**
 * A pipeline compiles to a DAG of these nodes: plain data plus the user's functions.
 * Executors (the in-process runtime here, adapters elsewhere) interpret it.
 */
export type PlanNode =
  | SourceNode
  | MapNode
  | FilterNode
  | FlatMapNode
  | KeyByNode
  | UnionNode
  | WindowNode
  | RollingNode
  | ProcessNode
  | SideOutputNode
  | IntervalJoinNode
  | WindowJoinNode
  | SinkNode
  | RepartitionNode;

interface NodeBase {
  /** 1 for a source, then one more per builder call along the longest path. */
  readonly step: number;
  /** What error messages call this node, e.g. `step 4 (window tumbling(60000))`. */
  readonly label: string;
  /** Whether records reaching this node carry a key (set by keyBy). */
  readonly keyed: boolean;
  /** The operator id its state is checkpointed under, when given with `.uid(name)`. */
  uid?: string;
}

export interface WatermarkOptions {
  /** How late a record may arrive relative to the largest timestamp seen on its partition (ms). */
  maxOutOfOrderness?: number;
  /** A partition without records for this long (processing time) stops holding back the watermark. */
  idleTimeout?: number;
  /** Records this far ahead of the partition's watermark are dead-lettered instead of advancing it. */
  maxFutureSkew?: number;
}

export interface SourceNode extends NodeBase {
  readonly kind: "source";
  readonly topic: string;
  readonly deserialize: (raw: unknown) => unknown;
  readonly timestamp: ((value: any, record: StoredRecord) => number) | undefined;
  readonly watermark: Required<Pick<WatermarkOptions, "maxOutOfOrderness">> & WatermarkOptions;
}
export interface MapNode extends NodeBase {
  readonly kind: "map";
  readonly input: PlanNode;
  readonly fn: (value: any) => unknown;
}
export interface FilterNode extends NodeBase {
  readonly kind: "filter";
  readonly input: PlanNode;
  readonly fn: (value: any) => boolean;
}
export interface FlatMapNode extends NodeBase {
  readonly kind: "flatMap";
  readonly input: PlanNode;
  readonly fn: (value: any) => Iterable<unknown>;
}
export interface KeyByNode extends NodeBase {
  readonly kind: "keyBy";
  readonly input: PlanNode;
  readonly fn: (value: any) => Key;
}
export interface UnionNode extends NodeBase {
  readonly kind: "union";
  readonly inputs: readonly PlanNode[];
}
export interface WindowNode extends NodeBase {
  readonly kind: "window";
  readonly input: PlanNode;
  readonly window: WindowSpec;
  readonly allowedLateness: number;
  readonly lateTo: string | undefined;
  readonly aggregator: Aggregator<any, any, any>;
}
export interface RollingNode extends NodeBase {
  readonly kind: "rolling";
  readonly input: PlanNode;
  readonly aggregator: Aggregator<any, any, any>;
  /** reduce emits the reduced value itself; aggregate emits `{ key, value }`. */
  readonly emit: "value" | "keyed";
}
export interface ProcessNode extends NodeBase {
  readonly kind: "process";
  readonly input: PlanNode;
  readonly fn: ProcessFunction<any, any, any>;
}
export interface SideOutputNode extends NodeBase {
  readonly kind: "sideOutput";
  readonly input: ProcessNode;
  readonly tag: string;
}
export interface IntervalJoinNode extends NodeBase {
  readonly kind: "intervalJoin";
  readonly left: PlanNode;
  readonly right: PlanNode;
  readonly lower: number;
  readonly upper: number;
  readonly fn: (left: any, right: any) => unknown;
}
export interface WindowJoinNode extends NodeBase {
  readonly kind: "windowJoin";
  readonly left: PlanNode;
  readonly right: PlanNode;
  readonly window: WindowSpec;
  readonly fn: (left: any, right: any) => unknown;
}
export interface SinkNode extends NodeBase {
  readonly kind: "sink";
  readonly input: PlanNode;
  readonly topic: string;
  readonly key: ((value: any) => string | null) | undefined;
  readonly serialize: ((value: any) => unknown) | undefined;
  readonly headers: ((value: any) => Record<string, string>) | undefined;
}

/**
 * A shuffle through a topic: records leave keyed by their key and come back, from whichever
 * process owns the key's partition, keyed again by the same function.
 */
export interface RepartitionNode extends NodeBase {
  readonly kind: "repartition";
  readonly input: KeyByNode;
  /** Explicit topic name; default `<group>-repartition-<step>`. */
  readonly topic: string | undefined;
  readonly watermark: WatermarkOptions;
}

/** Typed name of a side output of a process step. */
export interface OutputTag<T> {
  readonly name: string;
  readonly _t?: T;
}

/**
 * A side output of a `process` step, read with `.sideOutput(tag)`.
 *
 * @example
 * const suspicious = outputTag<Click>("suspicious");
 */
export function outputTag<T>(name: string): OutputTag<T> {
  return { name };
}

/** The timer service of a keyed process step (timers are per key, deduplicated per timestamp). */
export interface Timers {
  /** Fires `onTimer` once the watermark reaches `timestamp`. */
  eventTime(timestamp: number): void;
  /** Fires `onTimer` once the job's clock reaches `timestamp`. */
  processingTime(timestamp: number): void;
  deleteEventTime(timestamp: number): void;
  deleteProcessingTime(timestamp: number): void;
}

export interface ProcessContext<K, Out> {
  /** Key of the record or timer being handled. */
  readonly key: K;
  /** Event time of the record, or the timer's timestamp. */
  readonly timestamp: number;
  /** Whether `onTimer` was called for an event-time or a processing-time timer. */
  readonly timeDomain: "event" | "processing" | undefined;
  readonly timers: Timers;
  watermark(): number;
  now(): number;
  state<V>(descriptor: ValueStateDescriptor<V>): ValueState<V>;
  state<MK, MV>(descriptor: MapStateDescriptor<MK, MV>): MapState<MK, MV>;
  state<V>(descriptor: ListStateDescriptor<V>): ListState<V>;
  /** Sends a record downstream (timestamp defaults to the current one). */
  emit(value: Out, timestamp?: number): void;
  /** Sends a record to a side output. */
  output<X>(tag: OutputTag<X>, value: X, timestamp?: number): void;
}

/**
 * Flink's KeyedProcessFunction: per record, with keyed state and timers.
 *
 * @example
 * keyed.process<string>({
 *   onRecord(v, ctx) { ctx.timers.eventTime(ctx.timestamp + 60_000); },
 *   onTimer(t, ctx) { ctx.emit(`${ctx.key} idle since ${t - 60_000}`); },
 * });
 */
export interface ProcessFunction<T, K, Out> {
  onRecord(value: T, ctx: ProcessContext<K, Out>): void;
  onTimer?(timestamp: number, ctx: ProcessContext<K, Out>): void;
}
