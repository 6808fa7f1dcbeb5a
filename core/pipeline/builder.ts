import { topicNameProblem } from "../broker/broker.js";
import { PipelineError } from "../errors.js";
import { type Aggregator, type AggregatorSpec, reducing, toAggregator } from "../operators/aggregators.js";
import { json, jsonDeserialize, type Serde } from "../serde.js";
import { describeWindow, type WindowSpec, windowProblem } from "../time/windows.js";
import type { Key, KeyedValue, StoredRecord, WindowResult } from "../types.js";
import type {
  OutputTag,
  PlanNode,
  ProcessFunction,
  ProcessNode,
  RepartitionNode,
  SinkNode,
  SourceNode,
  WatermarkOptions,
} from "./plan.js";

export interface SourceOptions<T> {
  /** Deserializer (default {@link json}); a throw dead-letters the record with the reason. */
  value?: Serde<T> | ((raw: unknown) => T);
  /**
   * Event time of a record (default: the broker record's timestamp). The broker record (key,
   * headers, offset) is made for a function that declares the second parameter; one of a single
   * parameter costs no record object.
   */
  timestamp?: (value: T, record: StoredRecord) => number;
  watermark?: WatermarkOptions;
}

export interface WindowOptions {
  /** How long after a window fires late records still update it (ms, default 0). */
  allowedLateness?: number;
  /** Topic that receives records too late for every window they belong to. */
  lateTo?: string;
}

export interface SinkOptions<T> {
  /** Record key (default: the stream's key, if keyed, else none). */
  key?: (value: T) => string | null;
  /** Serializer for the value (default: the broker's: as-is in memory, JSON on Kafka). */
  value?: Serde<T>;
  headers?: (value: T) => Record<string, string>;
}

export type IntervalJoinOptions = { between: readonly [lower: number, upper: number] };
export type WindowJoinOptions = { window: WindowSpec };

type Dist<N> = N extends PlanNode ? Omit<N, "step" | "label" | "keyed"> & { keyed?: boolean } : never;

// Recognised by tags, not `instanceof`: a pipeline module may load another copy of Rivulet
// (the built package next to the sources, two installs), and its streams must still be accepted.
const isStream = (x: unknown): x is Stream<unknown> =>
  (x as { _tag?: unknown } | null)?._tag === "RivuletStream";
const isKeyed = (x: unknown): x is KeyedStream<unknown, Key> =>
  isStream(x) && typeof (x as { join?: unknown }).join === "function";

/** Whether a value is a runnable pipeline (built by any copy of Rivulet). */
export function isPipeline(x: unknown): x is Pipeline {
  return (x as { _tag?: unknown } | null)?._tag === "RivuletPipeline";
}

function nextStep(inputs: readonly PlanNode[]): number {
  return Math.max(...inputs.map((n) => n.step)) + 1;
}

function make<N extends PlanNode = PlanNode>(
  inputs: readonly PlanNode[],
  op: string,
  spec: Dist<N>,
  keyed: boolean,
): N {
  const step = nextStep(inputs);
  return { ...spec, step, label: `step ${step} (${op})`, keyed: spec.keyed ?? keyed } as unknown as N;
}

function requireFn(label: string, fn: unknown, what = "a function"): void {
  if (typeof fn !== "function")
    throw new PipelineError(label, `expected ${what}, got ${fn === null ? "null" : typeof fn}`);
}

function checkTopic(label: string, topic: string): void {
  const problem = topicNameProblem(topic);
  if (problem) throw new PipelineError(label, problem);
}

function checkDuration(label: string, what: string, ms: unknown, allowInfinity = false): void {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0 || (!allowInfinity && !Number.isFinite(ms)))
    throw new PipelineError(
      label,
      `${what} must be a non-negative number of milliseconds, got ${String(ms)}`,
    );
}

/**
 * A stream of records of type `T`. Every method returns a new stream; nothing runs until
 * `run(pipeline, ...)`.
 *
 * @example
 * Pipeline.source<Click>("clicks").filter((c) => c.kind === "click").map((c) => c.userId).to("user-ids");
 */
export class Stream<T> {
  readonly _tag = "RivuletStream" as const;
  /** @internal */
  constructor(readonly node: PlanNode) {}

  map<U>(fn: (value: T) => U): Stream<U> {
    return new Stream(this.unary("map", fn));
  }

  filter<S extends T>(fn: (value: T) => value is S): Stream<S>;
  filter(fn: (value: T) => boolean): Stream<T>;
  filter(fn: (value: T) => boolean): Stream<T> {
    return new Stream(this.unary("filter", fn));
  }

  flatMap<U>(fn: (value: T) => Iterable<U>): Stream<U> {
    return new Stream(this.unary("flatMap", fn));
  }

  /** Partitions by key: the entry to windows, keyed state, rolling aggregates and joins. */
  keyBy<K extends Key>(fn: (value: T) => K): KeyedStream<T, K> {
    return new KeyedStream(this.unary("keyBy", fn, true));
  }

  /** Merges streams of the same type. */
  union(...others: Stream<T>[]): Stream<T> {
    const label = `step ${nextStep([this.node, ...others.map((o) => o?.node).filter(Boolean)])} (union)`;
    for (const o of others)
      if (!isStream(o))
        throw new PipelineError(label, "union() takes streams built with Pipeline.source(...)");
    const inputs = [this.node, ...others.map((o) => o.node)];
    return new Stream(
      make(
        inputs,
        "union",
        { kind: "union", inputs },
        inputs.every((n) => n.keyed),
      ),
    );
  }

  /**
   * Windows need a key: call `keyBy(...)` first.
   * @deprecated Not available on an unkeyed stream; present only to fail with a clear message.
   */
  window(_window: never, _options?: never): unknown {
    const step = this.node.step + 1;
    throw new PipelineError(
      `step ${step} (window)`,
      "window() needs a keyed stream: call keyBy(...) before window(...)",
    );
  }

  /**
   * Names the step that made this stream (Flink's `uid`): checkpoints file its state under this
   * name, so a changed pipeline finds it again whatever steps were added, removed or moved
   * around it. Without it, a stateful step's id is derived from what it is and the topics it
   * reads (e.g. `window tumbling(60000)@clicks`), which adding stateless steps does not change.
   *
   * @example
   * clicks.keyBy((c) => c.userId).window(tumbling(60_000)).aggregate(count()).uid("clicks-per-minute")
   */
  uid(name: string): this {
    const label = this.node.label;
    if (typeof name !== "string" || name.length === 0)
      throw new PipelineError(label, `uid must be a non-empty string, got ${String(name)}`);
    if (this.node.uid !== undefined && this.node.uid !== name)
      throw new PipelineError(label, `uid "${name}": this step already has uid "${this.node.uid}"`);
    this.node.uid = name;
    return this;
  }

  /** Writes the stream to a topic; the result is a runnable pipeline. */
  to(topic: string, options: SinkOptions<T> = {}): Pipeline {
    const label = `step ${this.node.step + 1} (to "${String(topic)}")`;
    checkTopic(label, topic);
    if (options.key !== undefined) requireFn(label, options.key, "key to be a function");
    if (options.headers !== undefined) requireFn(label, options.headers, "headers to be a function");
    const serde = options.value;
    const sink = make<SinkNode>(
      [this.node],
      `to "${topic}"`,
      {
        kind: "sink",
        input: this.node,
        topic,
        key: options.key,
        serialize: serde ? (v: T) => serde.serialize(v) : undefined,
        headers: options.headers,
      },
      this.node.keyed,
    );
    return new Pipeline([sink]);
  }

  /** @internal */
  protected unary(op: "map" | "filter" | "flatMap" | "keyBy", fn: unknown, keyed = false): PlanNode {
    const label = `step ${this.node.step + 1} (${op})`;
    requireFn(label, fn);
    return make([this.node], op, { kind: op, input: this.node, fn } as Dist<PlanNode>, keyed);
  }
}

/**
 * A stream partitioned by key `K`. Windows, rolling aggregates, keyed process functions and
 * joins live here. `map`/`filter`/`flatMap` return plain streams (as in Flink).
 *
 * @example
 * clicks.keyBy((c) => c.userId).window(tumbling(60_000)).aggregate(count()).to("clicks-per-minute");
 */
export class KeyedStream<T, K extends Key> extends Stream<T> {
  override window(window: WindowSpec, options?: WindowOptions): WindowedStream<T, K>;
  override window(window: WindowSpec, options: WindowOptions = {}): WindowedStream<T, K> {
    const label = `step ${this.node.step + 1} (window${window && typeof window === "object" ? ` ${describeWindow(window)}` : ""})`;
    const problem = windowProblem(window);
    if (problem) throw new PipelineError(label, problem);
    const lateness = options.allowedLateness ?? 0;
    checkDuration(label, "allowedLateness", lateness);
    if (options.lateTo !== undefined) checkTopic(label, options.lateTo);
    return new WindowedStream(this.node, window, lateness, options.lateTo);
  }

  /**
   * Shuffles records through a topic keyed by this key, so that every process of a group sees
   * all records of the keys it owns (Kafka Streams' repartition topic). Needed across processes
   * when the key is not the key the records were written with; a single process needs none.
   * The records come back out of order by as much as the partitions they came from disagree in
   * event time: say how much with `watermark.maxOutOfOrderness` (default 0); partitions that get
   * no keys stop holding the watermark back after `watermark.idleTimeout` (default 1 s).
   *
   * @example
   * clicks.keyBy((c) => c.page).repartition({ watermark: { maxOutOfOrderness: 5_000 } })
   *   .window(tumbling(60_000)).aggregate(count())
   */
  repartition(options: { topic?: string; watermark?: WatermarkOptions } = {}): KeyedStream<T, K> {
    const label = `step ${this.node.step + 1} (repartition)`;
    if (this.node.kind !== "keyBy")
      throw new PipelineError(label, "repartition() goes right after keyBy(...)");
    if (options.topic !== undefined) checkTopic(label, options.topic);
    const wm = options.watermark ?? {};
    checkDuration(label, "watermark.maxOutOfOrderness", wm.maxOutOfOrderness ?? 0);
    if (wm.idleTimeout !== undefined) checkDuration(label, "watermark.idleTimeout", wm.idleTimeout, true);
    return new KeyedStream(
      make<RepartitionNode>(
        [this.node],
        "repartition",
        {
          kind: "repartition",
          input: this.node,
          topic: options.topic,
          watermark: { maxOutOfOrderness: 0, idleTimeout: 1_000, ...wm },
        },
        true,
      ),
    );
  }

  /** Rolling reduce: emits the reduced value per key on every record. */
  reduce(fn: (a: T, b: T) => T): Stream<T> {
    const label = `step ${this.node.step + 1} (reduce)`;
    requireFn(label, fn);
    return new Stream(
      make(
        [this.node],
        "reduce",
        { kind: "rolling", input: this.node, aggregator: reducing(fn), emit: "value" },
        true,
      ),
    );
  }

  /** Rolling aggregate: emits `{ key, value }` per key on every record. */
  aggregate<R = never, S extends Record<string, unknown> = never>(
    spec: Aggregator<T, any, R> | { [P in keyof S]: Aggregator<T, any, S[P]> },
  ): Stream<KeyedValue<K, [R] extends [never] ? S : R>>;
  aggregate(spec: AggregatorSpec<T>): Stream<KeyedValue<K, unknown>> {
    const label = `step ${this.node.step + 1} (aggregate)`;
    const aggregator = asAggregator(label, spec);
    return new Stream(
      make([this.node], "aggregate", { kind: "rolling", input: this.node, aggregator, emit: "keyed" }, true),
    );
  }

  /** Keyed state and timers per record, as Flink's KeyedProcessFunction. */
  process<Out>(fn: ProcessFunction<T, K, Out>): ProcessedStream<Out> {
    const label = `step ${this.node.step + 1} (process)`;
    if (!fn || typeof fn !== "object")
      throw new PipelineError(label, "expected { onRecord(value, ctx), onTimer?(time, ctx) }");
    requireFn(label, fn.onRecord, "onRecord to be a function");
    if (fn.onTimer !== undefined) requireFn(label, fn.onTimer, "onTimer to be a function");
    return new ProcessedStream(
      make<ProcessNode>([this.node], "process", { kind: "process", input: this.node, fn }, true),
    );
  }

  /**
   * Joins with another stream keyed the same way: an interval join (`{ between: [lower, upper] }`:
   * right.ts in [left.ts + lower, left.ts + upper]) or a window join (`{ window: tumbling(...) }`).
   * Results carry the larger timestamp of the pair (interval) or `end - 1` (window).
   */
  join<U, Out>(
    other: KeyedStream<U, K>,
    options: IntervalJoinOptions | WindowJoinOptions,
    fn: (left: T, right: U) => Out,
  ): Stream<Out> {
    const step = nextStep([this.node, ...(isStream(other) ? [other.node] : [])]);
    const label = `step ${step} (join)`;
    if (!isKeyed(other))
      throw new PipelineError(
        label,
        "join() needs two keyed streams: call keyBy(...) on the other stream too",
      );
    requireFn(label, fn, "a join function (left, right) => result");
    const inputs = [this.node, other.node];
    if (options && "between" in options) {
      const [lower, upper] = options.between ?? [];
      if (
        typeof lower !== "number" ||
        typeof upper !== "number" ||
        !Number.isFinite(lower) ||
        !Number.isFinite(upper) ||
        lower > upper
      )
        throw new PipelineError(
          label,
          `between must be [lower, upper] with finite lower <= upper, got [${lower}, ${upper}]`,
        );
      return new Stream(
        make(
          inputs,
          "join",
          { kind: "intervalJoin", left: this.node, right: other.node, lower, upper, fn },
          false,
        ),
      );
    }
    if (options && "window" in options) {
      const problem = windowProblem(options.window);
      if (problem) throw new PipelineError(label, problem);
      if (options.window.kind === "session")
        throw new PipelineError(label, "window joins support tumbling and sliding windows, not sessions");
      return new Stream(
        make(
          inputs,
          "join",
          { kind: "windowJoin", left: this.node, right: other.node, window: options.window, fn },
          false,
        ),
      );
    }
    throw new PipelineError(
      label,
      "join options must be { between: [lower, upper] } or { window: tumbling(...) }",
    );
  }
}

/** A keyed stream cut into windows; finish with `aggregate` or `reduce`. */
export class WindowedStream<T, K extends Key> {
  /** @internal */
  constructor(
    private readonly input: PlanNode,
    private readonly spec: WindowSpec,
    private readonly allowedLateness: number,
    private readonly lateTo: string | undefined,
  ) {}

  /**
   * One `{ key, start, end, value }` per key and window when the window fires.
   *
   * @example
   * keyed.window(tumbling(60_000)).aggregate({ clicks: count(), spent: sum((c) => c.amount) })
   */
  aggregate<R = never, S extends Record<string, unknown> = never>(
    spec: Aggregator<T, any, R> | { [P in keyof S]: Aggregator<T, any, S[P]> },
  ): Stream<WindowResult<K, [R] extends [never] ? S : R>>;
  aggregate(spec: AggregatorSpec<T>): Stream<WindowResult<K, unknown>> {
    const label = `step ${this.input.step + 1} (window ${describeWindow(this.spec)} aggregate)`;
    return this.node(label, asAggregator(label, spec));
  }

  /** Like `aggregate`, with `value` the reduction of the window's records. */
  reduce(fn: (a: T, b: T) => T): Stream<WindowResult<K, T>> {
    const label = `step ${this.input.step + 1} (window ${describeWindow(this.spec)} reduce)`;
    requireFn(label, fn);
    return this.node(label, reducing(fn));
  }

  private node<R>(label: string, aggregator: Aggregator<T, any, any>): Stream<R> {
    const op = label.slice(label.indexOf("(") + 1, -1);
    return new Stream(
      make(
        [this.input],
        op,
        {
          kind: "window",
          input: this.input,
          window: this.spec,
          allowedLateness: this.allowedLateness,
          lateTo: this.lateTo,
          aggregator,
        },
        true,
      ),
    );
  }
}

/** The main output of a `process` step, plus its side outputs. */
export class ProcessedStream<T> extends Stream<T> {
  /** Records the process function sent with `ctx.output(tag, value)`. */
  sideOutput<X>(tag: OutputTag<X>): Stream<X> {
    const label = `step ${this.node.step + 1} (sideOutput)`;
    if (!tag || typeof tag.name !== "string" || tag.name === "")
      throw new PipelineError(label, "expected an output tag made with outputTag(name)");
    return new Stream(
      make(
        [this.node],
        `sideOutput "${tag.name}"`,
        { kind: "sideOutput", input: this.node as ProcessNode, tag: tag.name },
        true,
      ),
    );
  }
}

function asAggregator(label: string, spec: unknown): Aggregator<any, any, any> {
  if (!spec || typeof spec !== "object")
    throw new PipelineError(label, "expected an aggregator such as count() or { n: count() }");
  try {
    return toAggregator(spec as AggregatorSpec<unknown>);
  } catch (e) {
    throw new PipelineError(label, (e as Error).message);
  }
}

/**
 * A runnable pipeline: the sinks it writes and, through them, everything upstream.
 *
 * @example
 * const p = Pipeline.source<Click>("clicks").keyBy((c) => c.userId)
 *   .window(tumbling(60_000)).aggregate(count()).to("clicks-per-minute");
 * const job = await run(p, { broker });
 */
export class Pipeline {
  readonly _tag = "RivuletPipeline" as const;
  /** @internal */
  constructor(readonly sinks: readonly SinkNode[]) {}

  /** Starts a stream from a topic. */
  static source<T = unknown>(topic: string, options: SourceOptions<T> = {}): Stream<T> {
    const label = `step 1 (source "${String(topic)}")`;
    checkTopic(label, topic);
    const wm = options.watermark ?? {};
    checkDuration(label, "watermark.maxOutOfOrderness", wm.maxOutOfOrderness ?? 0);
    if (wm.idleTimeout !== undefined) checkDuration(label, "watermark.idleTimeout", wm.idleTimeout, true);
    if (wm.maxFutureSkew !== undefined)
      checkDuration(label, "watermark.maxFutureSkew", wm.maxFutureSkew, true);
    if (options.timestamp !== undefined) requireFn(label, options.timestamp, "timestamp to be a function");
    const serde = options.value ?? json<T>();
    let deserialize: (raw: unknown) => unknown;
    if (typeof serde === "function") deserialize = serde;
    else if (serde && serde.deserialize === jsonDeserialize) deserialize = jsonDeserialize;
    else if (serde && typeof serde.deserialize === "function") deserialize = serde.deserialize.bind(serde);
    else throw new PipelineError(label, "value must be a Serde (e.g. json()) or a function (raw) => value");
    const node: SourceNode = {
      kind: "source",
      step: 1,
      label,
      keyed: false,
      topic,
      deserialize,
      timestamp: options.timestamp as SourceNode["timestamp"],
      watermark: { ...wm, maxOutOfOrderness: wm.maxOutOfOrderness ?? 0 },
    };
    return new Stream<T>(node);
  }

  /** One pipeline from several (their sinks run together in one job). */
  static all(...pipelines: Pipeline[]): Pipeline {
    for (const p of pipelines)
      if (!isPipeline(p))
        throw new PipelineError("Pipeline.all", "expected pipelines returned by .to(topic)");
    return new Pipeline(pipelines.flatMap((p) => p.sinks));
  }
}
