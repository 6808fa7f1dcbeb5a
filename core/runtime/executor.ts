import { partitionForKey } from "../broker/partitioner.js";
import { offsetAt, type PartitionBatch, recordAt } from "../broker/records.js";
import { describe, RivuletError } from "../errors.js";
import { coPartitioned } from "../operators/co-partitioned.js";
import { filter } from "../operators/filter.js";
import { flatMap } from "../operators/flat-map.js";
import { IntervalJoinOperator } from "../operators/interval-join.js";
import { keyBy } from "../operators/key-by.js";
import { map } from "../operators/map.js";
import type { StatefulOperator, TimedOperator } from "../operators/operator.js";
import { ProcessOperator } from "../operators/process-function.js";
import { RollingOperator } from "../operators/rolling.js";
import { SessionWindowOperator } from "../operators/session-window.js";
import { sink } from "../operators/sink.js";
import { WindowOperator } from "../operators/window.js";
import { WindowJoinOperator } from "../operators/window-join.js";
import type { KeyByNode, PlanNode, SourceNode } from "../pipeline/plan.js";
import { jsonDeserialize } from "../serde.js";
import type { Key } from "../types.js";
import { type Plan, stateKind, upstreamSources } from "./compile.js";
import {
  AGGREGATED,
  DEAD,
  EMITTED,
  FILTERED,
  keyString,
  LATE,
  type Push,
  type RuntimeContext,
} from "./context.js";
import { valueBytes } from "./limits.js";

const NEG = Number.NEGATIVE_INFINITY;
const POS = Number.POSITIVE_INFINITY;

/** Event-time state of one source node on one partition. */
export interface Input {
  readonly source: SourceRuntime;
  readonly topic: string;
  readonly partition: number;
  maxTs: number;
  wm: number;
  idle: boolean;
  lastActive: number;
  readonly views: View[];
}

/** The minimum watermark over a set of source nodes' inputs (non-idle ones), never going back. */
interface View {
  /** Its sources' ids, sorted and joined: what checkpoints file its watermark under. */
  readonly key: string;
  readonly sources: ReadonlySet<SourceNode>;
  inputs: Input[];
  wm: number;
  min: number;
}

interface SourceRuntime {
  readonly node: SourceNode;
  readonly id: string;
  readonly push: Push;
}

/** One assigned topic-partition: its position and the inputs of the sources reading it. */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read; undefined until a record was processed or a snapshot said so. */
  offset: number | undefined;
  highWatermark: number;
  readonly inputs: Input[];
}

interface InputSnapshot {
  source: string;
  topic: string;
  partition: number;
  maxTs: number;
  wm: number;
  idle: boolean;
}

/**
 * The checkpoint of one state section: a partition number. It holds the positions and
 * event-time state of every source partition with that number and the keyed state of every key
 * the section owns (murmur2 of the key, as Kafka's partitioner, so co-partitioned keys live with
 * their partition), and moves with the partition from one process to another. Everything in it
 * is filed under stable ids (`Plan.id`), never under positions in the plan.
 */
export interface SectionSnapshot {
  v: 3;
  section: number;
  /** The checkpoint's sequence number (the job's next ones are larger). */
  seq: number;
  partitions: { topic: string; partition: number; offset: number | undefined }[];
  inputs: InputSnapshot[];
  /**
   * Watermarks of the views (by their sources' ids) and timed operators (the same in every
   * section of a checkpoint).
   */
  views: Record<string, number>;
  wms: Record<string, number>;
  operators: Record<string, unknown>;
  /** The kind of state (`stateKind`) of every stateful operator of the pipeline that took it. */
  kinds: Record<string, string>;
}

/** What a restore does with state of operators the pipeline no longer has. */
export interface RestorePolicy {
  /** Drop it (Flink's `--allowNonRestoredState`) instead of failing. Default false. */
  allowNonRestoredState?: boolean;
}

/** An event-time operator's watermark, as `JobMetrics.operators` reports it. */
export interface OperatorWatermark {
  /** The operator id (`Plan.id`). */
  id: string;
  label: string;
  /** Its input watermark: the minimum over the non-idle partitions upstream of it. */
  watermark: number;
  /** The partition number of its task (`per-partition` tasks). */
  task?: number;
}

/** What `Executor.deserialize` returns for a record it dead-lettered. */
const REJECTED = Symbol("rejected");

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Runs a compiled plan over batches: fused synchronous operator chains, per-record watermarks,
 * and firing as soon as the watermark passes the earliest pending timer. No I/O here; the Job
 * polls, commits and checkpoints around it.
 */
export class Executor {
  readonly timed: TimedOperator[] = [];
  readonly stateful: StatefulOperator[] = [];
  /** The kind of state of each stateful operator, by id. */
  private readonly kinds = new Map<string, string>();
  /** Step labels of the stateful operators, by id (for errors). */
  private readonly labels = new Map<string, string>();
  private readonly timedViews: View[] = [];
  private readonly views: View[] = [];
  private readonly sourcesByTopic = new Map<string, SourceRuntime[]>();
  readonly partitions = new Map<string, PartitionState>();
  private restoredInputs = new Map<string, InputSnapshot>();
  private restoredOffsets = new Map<string, number | undefined>();
  /** Whether partitions were ever added (restoring into a running executor keeps its watermarks). */
  private held = false;
  /** Number of state sections: the largest partition count among the source topics. */
  sections = 1;

  /**
   * @param task The partition number this executor is the task of (`per-partition` tasks): all
   * its state is that section's. Undefined: it holds every partition the process has.
   */
  constructor(
    readonly plan: Plan,
    readonly rt: RuntimeContext,
    readonly task?: number,
  ) {
    const up = upstreamSources(plan);
    const sourceIds = new Map<SourceNode, string>();
    for (const n of plan.nodes)
      if (n.kind === "source") sourceIds.set(n, plan.id.get(n)!);
      else if (n.kind === "repartition") sourceIds.set(plan.repartitions.get(n)!, `${plan.id.get(n)}/source`);
    const viewFor = (sources: Set<SourceNode>): View => {
      const found = this.views.find(
        (v) => v.sources.size === sources.size && [...sources].every((s) => v.sources.has(s)),
      );
      if (found) return found;
      const key = [...sources]
        .map((s) => sourceIds.get(s)!)
        .sort()
        .join("+");
      const v: View = { key, sources, inputs: [], wm: NEG, min: NEG };
      this.views.push(v);
      return v;
    };
    // Build from the sinks up, so every consumer's input exists before its producers.
    const inputPush = new Map<string, Push>();
    const inKey = (n: PlanNode, side: string | undefined) => `${plan.id.get(n)}/${side ?? ""}`;
    const outPush = (n: PlanNode, only?: (c: PlanNode) => boolean): Push => {
      const targets = (plan.consumers.get(n) ?? [])
        .filter((e) => (only ? only(e.node) : e.node.kind !== "sideOutput"))
        .map((e) => inputPush.get(inKey(e.node, e.side))!);
      if (targets.length === 0) return () => {};
      if (targets.length === 1) return targets[0]!;
      // Two or three consumers (a stream split by filters): a call site per consumer, each
      // monomorphic, so V8 can inline every branch into the source loop.
      const [a, b, c] = targets as [Push, Push, Push | undefined];
      if (targets.length === 2)
        return (v, ts, k) => {
          a(v, ts, k);
          b(v, ts, k);
        };
      if (c !== undefined && targets.length === 3)
        return (v, ts, k) => {
          a(v, ts, k);
          b(v, ts, k);
          c(v, ts, k);
        };
      return (v, ts, k) => {
        for (let i = 0; i < targets.length; i++) targets[i]!(v, ts, k);
      };
    };
    const timedInOrder: [TimedOperator, View][] = [];
    for (let i = plan.nodes.length - 1; i >= 0; i--) {
      const n = plan.nodes[i]!;
      const id = plan.id.get(n)!;
      const key = inKey(n, undefined);
      const view = () => viewFor(up.get(n)!);
      const kind = stateKind(n);
      if (kind !== undefined) {
        this.kinds.set(id, kind);
        this.labels.set(id, n.label);
      }
      switch (n.kind) {
        case "source": {
          const s: SourceRuntime = { node: n, id, push: outPush(n) };
          const list = this.sourcesByTopic.get(n.topic) ?? [];
          list.unshift(s);
          this.sourcesByTopic.set(n.topic, list);
          break;
        }
        case "map":
          inputPush.set(key, map(n, outPush(n)));
          break;
        case "filter":
          inputPush.set(key, filter(n, outPush(n)));
          break;
        case "flatMap":
          inputPush.set(key, flatMap(n, outPush(n)));
          break;
        case "keyBy":
          inputPush.set(key, keyBy(n, this.checked(n, outPush)));
          break;
        case "repartition": {
          // Out through the topic, keyed by the key; back in through its own source, keyed again.
          const src = plan.repartitions.get(n)!;
          inputPush.set(key, (v, ts, k) => {
            rt.fate |= EMITTED;
            rt.write(src.topic, keyString(k), v, ts);
          });
          const s: SourceRuntime = {
            node: src,
            id: `${id}/source`,
            push: keyBy(n.input, this.mustBeLocal(n.input, outPush(n))),
          };
          const list = this.sourcesByTopic.get(src.topic) ?? [];
          list.unshift(s);
          this.sourcesByTopic.set(src.topic, list);
          break;
        }
        case "union":
        case "sideOutput":
          inputPush.set(key, outPush(n));
          break;
        case "sink":
          inputPush.set(key, sink(n, rt));
          break;
        case "rolling": {
          const op = new RollingOperator(id, n, rt, outPush(n));
          this.stateful.push(op);
          inputPush.set(key, op.push);
          break;
        }
        case "window": {
          const op =
            n.window.kind === "session"
              ? new SessionWindowOperator(id, n, rt, outPush(n))
              : new WindowOperator(id, n, rt, outPush(n));
          timedInOrder.push([op, view()]);
          inputPush.set(key, op.push);
          break;
        }
        case "process": {
          const sides = new Map<string, Push>();
          for (const e of plan.consumers.get(n) ?? [])
            if (e.node.kind === "sideOutput") {
              const tag = e.node.tag;
              const prev = sides.get(tag);
              const p = inputPush.get(inKey(e.node, undefined))!;
              sides.set(
                tag,
                prev
                  ? (v, ts, k) => {
                      prev(v, ts, k);
                      p(v, ts, k);
                    }
                  : p,
              );
            }
          const op = new ProcessOperator(id, n, rt, outPush(n), sides);
          timedInOrder.push([op, view()]);
          inputPush.set(key, op.push);
          break;
        }
        case "intervalJoin":
        case "windowJoin": {
          const op =
            n.kind === "intervalJoin"
              ? new IntervalJoinOperator(id, n, rt, outPush(n))
              : new WindowJoinOperator(id, n, rt, outPush(n));
          timedInOrder.push([op, view()]);
          inputPush.set(inKey(n, "left"), op.pushLeft);
          inputPush.set(inKey(n, "right"), op.pushRight);
          break;
        }
      }
    }
    // Built sinks-first; watermarks must reach upstream operators first.
    timedInOrder.reverse();
    for (const [op, v] of timedInOrder) {
      this.timed.push(op);
      this.timedViews.push(v);
      this.stateful.push(op);
    }
  }

  /**
   * In a per-partition task, records keyed for this task's own operators must belong to its
   * partition; those going to a repartition topic go wherever their key says.
   */
  private checked(n: KeyByNode, outPush: (n: KeyByNode, only?: (c: PlanNode) => boolean) => Push): Push {
    if (this.task === undefined) return outPush(n);
    const toTopic = (c: PlanNode) => c.kind === "repartition";
    const edges = this.plan.consumers.get(n) ?? [];
    const local = edges.some((e) => !toTopic(e.node));
    const checked = this.mustBeLocal(
      n,
      outPush(n, (c) => !toTopic(c)),
    );
    if (!edges.some((e) => toTopic(e.node))) return checked;
    const shuffled = outPush(n, toTopic);
    if (!local) return shuffled;
    return (v, ts, k) => {
      shuffled(v, ts, k);
      checked(v, ts, k);
    };
  }

  private mustBeLocal(n: KeyByNode, next: Push): Push {
    return this.task === undefined ? next : coPartitioned(n, this.rt, this.task, () => this.sections, next);
  }

  /** Source topics this plan reads. */
  topics(): string[] {
    return [...new Set(this.plan.sources.map((s) => s.topic))];
  }

  /**
   * Takes on newly assigned partitions (restoring their event-time state from a loaded snapshot).
   * All at once: adding them one by one would let the watermark run ahead of the ones not yet added.
   */
  addPartitions(tps: readonly { topic: string; partition: number }[], now: number): PartitionState[] {
    this.held = true;
    const added = tps.map(({ topic, partition }) => this.addPartition(topic, partition, now));
    let changed = false;
    for (const v of this.views) changed = this.recompute(v) || changed;
    if (changed) this.propagate();
    return added;
  }

  private addPartition(topic: string, partition: number, now: number): PartitionState {
    const k = tpKey(topic, partition);
    const existing = this.partitions.get(k);
    if (existing) return existing;
    const part: PartitionState = {
      topic,
      partition,
      offset: this.restoredOffsets.get(k),
      highWatermark: 0,
      inputs: [],
    };
    for (const source of this.sourcesByTopic.get(topic) ?? []) {
      const snap = this.restoredInputs.get(`${source.id}\u0000${k}`);
      const input: Input = {
        source,
        topic,
        partition,
        maxTs: snap?.maxTs ?? NEG,
        wm: snap?.wm ?? NEG,
        idle: snap?.idle ?? false,
        lastActive: now,
        views: this.views.filter((v) => v.sources.has(source.node)),
      };
      for (const v of input.views) v.inputs.push(input);
      part.inputs.push(input);
    }
    this.partitions.set(k, part);
    return part;
  }

  removePartition(topic: string, partition: number): void {
    const k = tpKey(topic, partition);
    const part = this.partitions.get(k);
    if (!part) return;
    this.partitions.delete(k);
    let changed = false;
    for (const input of part.inputs)
      for (const v of input.views) {
        v.inputs = v.inputs.filter((i) => i !== input);
        changed = this.recompute(v) || changed;
      }
    if (changed) this.propagate();
  }

  /** The hot loop: every record of a batch through its source's fused chain. */
  process(part: PartitionState, batch: PartitionBatch, now: number): void {
    if (batch.end <= batch.start) return;
    const rt = this.rt;
    rt.batch = batch;
    try {
      for (const input of part.inputs) {
        input.lastActive = now;
        if (input.idle) {
          input.idle = false;
          for (const v of input.views) this.recompute(v);
        }
        this.run(input, batch);
      }
    } finally {
      rt.batch = undefined;
    }
    part.offset = offsetAt(batch, batch.end - 1) + 1;
  }

  /**
   * One source's records through its chain. Per record: the value (the default JSON
   * deserializer's "already decoded" case without a call), its event time, the chain, the
   * record's fate, the watermark. The batch is read by column: a value and a timestamp per
   * record, no record object.
   */
  private run(input: Input, b: PartitionBatch): void {
    const rt = this.rt;
    const src = input.source.node;
    const push = input.source.push;
    const deserialize = src.deserialize;
    const json = deserialize === jsonDeserialize;
    const tsFn = src.timestamp;
    // A timestamp function that declares the record parameter gets the record (made for it).
    const wantsRecord = tsFn !== undefined && tsFn.length > 1;
    const ooo = src.watermark.maxOutOfOrderness;
    const skew = src.watermark.maxFutureSkew;
    const values = b.values;
    const timestamps = b.timestamps;
    const end = b.end;
    let maxTs = input.maxTs;
    const maxBytes = rt.limits.maxRecordBytes;
    // The common fates are counted here and added to the job's counters once per batch (or when
    // a record throws out of the chain); the rare ones go straight to them.
    let seen = 0;
    let emitted = 0;
    let filtered = 0;
    let aggregated = 0;
    try {
      for (let i = b.start; i < end; i++) {
        rt.index = i;
        rt.fate = 0;
        seen++;
        let value = values[i];
        if (maxBytes !== undefined && valueBytes(value) > maxBytes) {
          this.rt.deadLetter(
            recordAt(b, i),
            "limit",
            `a record of ${valueBytes(value)} bytes: limits.maxRecordBytes is ${maxBytes}`,
            src.label,
          );
          this.rt.counters.deadLettered++;
          continue;
        }
        if (!json || typeof value !== "object" || value instanceof Uint8Array) {
          value = this.deserialize(deserialize, b, i, src.label);
          if (value === REJECTED) continue;
        }
        let ts: unknown;
        if (tsFn === undefined) ts = timestamps[i];
        else
          try {
            ts = wantsRecord ? tsFn(value, recordAt(b, i)) : (tsFn as (v: unknown) => number)(value);
          } catch (e) {
            this.reject(b, i, `timestamp function threw: ${describe(e)}`, src.label);
            continue;
          }
        if (typeof ts !== "number" || !(ts >= 0) || ts === POS) {
          this.reject(b, i, timestampProblem(ts), src.label);
          continue;
        }
        if (skew !== undefined && ts - input.wm > skew && maxTs !== NEG) {
          this.reject(
            b,
            i,
            `timestamp ${ts} is more than maxFutureSkew (${skew} ms) ahead of the watermark ${input.wm}`,
            src.label,
          );
          continue;
        }
        try {
          push(value, ts, undefined);
        } catch (e) {
          rt.userError(e);
        }
        const f = rt.fate;
        if (f === EMITTED) emitted++;
        else if (f === FILTERED) filtered++;
        else if (f === AGGREGATED) aggregated++;
        else this.tally(f);
        if (ts > maxTs) {
          input.maxTs = maxTs = ts;
          const w = ts - ooo - 1;
          if (w > input.wm) {
            const old = input.wm;
            input.wm = w;
            if (this.advanced(input, old)) this.propagate();
          }
        }
      }
    } finally {
      const c = rt.counters;
      c.in += seen;
      c.emitted += emitted;
      c.filtered += filtered;
      c.aggregated += aggregated;
    }
  }

  /** A value the default JSON check did not let through; REJECTED when it was dead-lettered. */
  private deserialize(
    deserialize: (raw: unknown) => unknown,
    b: PartitionBatch,
    i: number,
    label: string,
  ): unknown {
    try {
      return deserialize(b.values[i]);
    } catch (e) {
      const cause = (e as { cause?: unknown } | null)?.cause;
      this.rt.deadLetter(
        recordAt(b, i),
        "deserialize",
        describe(e),
        label,
        cause === undefined ? undefined : describe(cause),
      );
      this.rt.counters.deadLettered++;
      return REJECTED;
    }
  }

  /** Dead-letters a record whose event time cannot be used. */
  private reject(b: PartitionBatch, i: number, reason: string, label: string): void {
    this.rt.deadLetter(recordAt(b, i), "timestamp", reason, label);
    this.rt.counters.deadLettered++;
  }

  /** Counts a record whose fate is one of the rarer combinations (the strongest bit wins). */
  private tally(f: number): void {
    const c = this.rt.counters;
    if (f & DEAD) c.deadLettered++;
    else if (f & LATE) c.late++;
    else if (f & EMITTED) c.emitted++;
    else c.aggregated++;
  }

  /**
   * Processing time moved: idle inputs, processing-time timers. True when anything ran (an
   * input went idle, an operator's processing-time work): state may have changed.
   */
  onProcessingTime(now: number): boolean {
    let changed = false;
    let ran = false;
    for (const part of this.partitions.values())
      for (const input of part.inputs) {
        const timeout = input.source.node.watermark.idleTimeout;
        if (!input.idle && timeout !== undefined && now - input.lastActive >= timeout) {
          input.idle = true;
          for (const v of input.views) changed = this.recompute(v) || changed;
        }
      }
    if (changed) this.propagate();
    const rt = this.rt;
    for (const op of this.timed)
      if (op.onProcessingTime && now >= (op.nextProcessingDue ?? POS)) {
        if (rt.ids) rt.firing(`${op.id}@p${now}`);
        op.onProcessingTime(now);
        if (rt.ids) rt.firing(undefined);
        ran = true;
      }
    return changed || ran;
  }

  /** Earliest processing time at which `onProcessingTime` has work. */
  nextProcessingDeadline(): number {
    let t = POS;
    for (const op of this.timed) if ((op.nextProcessingDue ?? POS) < t) t = op.nextProcessingDue!;
    for (const part of this.partitions.values())
      for (const input of part.inputs) {
        const timeout = input.source.node.watermark.idleTimeout;
        if (!input.idle && timeout !== undefined && input.lastActive + timeout < t)
          t = input.lastActive + timeout;
      }
    return t;
  }

  /**
   * Bounded end: the watermark jumps to +Infinity, every window and event-time timer fires.
   * With `upTo`, only the inputs of sources that many repartition topics deep or less end (what
   * a repartition topic still holds must be read before its source ends too).
   */
  endOfInput(upTo?: number): void {
    if (upTo === undefined) {
      for (const v of this.views) v.wm = v.min = POS;
      for (const part of this.partitions.values()) for (const input of part.inputs) input.wm = POS;
      this.propagate();
      return;
    }
    let changed = false;
    for (const part of this.partitions.values())
      for (const input of part.inputs)
        if (input.wm !== POS && (this.plan.depth.get(input.source.node) ?? 0) <= upTo) {
          input.wm = POS;
          input.idle = false;
          for (const v of input.views) changed = this.recompute(v) || changed;
        }
    if (changed) this.propagate();
  }

  /** Smallest watermark over all views (the job's event-time progress). */
  watermark(): number {
    let w = POS;
    for (const v of this.views) if (v.wm < w) w = v.wm;
    return this.views.length ? w : NEG;
  }

  /** Each timed operator's watermark, upstream first. */
  operators(): OperatorWatermark[] {
    return this.timed.map((op) => {
      const o: OperatorWatermark = { id: op.id, label: this.labels.get(op.id) ?? op.id, watermark: op.wm };
      if (this.task !== undefined) o.task = this.task;
      return o;
    });
  }

  private advanced(input: Input, old: number): boolean {
    let changed = false;
    for (const v of input.views) if (old <= v.min) changed = this.recompute(v) || changed;
    return changed;
  }

  /** Recomputes a view's minimum; true when its watermark moved forward. */
  private recompute(v: View): boolean {
    let min = POS;
    let max = NEG;
    let active = 0;
    for (const i of v.inputs) {
      if (i.wm > max) max = i.wm;
      if (i.idle) continue;
      active++;
      if (i.wm < min) min = i.wm;
    }
    // All inputs idle: Flink's valve lets the watermark go to the largest one.
    v.min = active > 0 ? min : v.inputs.length > 0 ? max : NEG;
    if (v.min > v.wm) {
      v.wm = v.min;
      return true;
    }
    return false;
  }

  /** Moves every timed operator to its view's watermark, upstream first, firing what is due. */
  private propagate(): void {
    const rt = this.rt;
    const fate = rt.fate; // firings belong to no input record
    const origin = rt.origin;
    for (let i = 0; i < this.timed.length; i++) {
      const op = this.timed[i]!;
      const w = this.timedViews[i]!.wm;
      if (w > op.wm) {
        if (w >= op.nextDue) {
          if (rt.ids) rt.firing(`${op.id}@${w}`);
          op.advance(w);
        } else op.wm = w;
      }
    }
    if (rt.ids) rt.firing(origin);
    rt.fate = fate;
  }

  /** The section that owns a key. */
  sectionOf(key: Key): number {
    return this.sections === 1 ? 0 : partitionForKey(keyString(key) ?? "", this.sections);
  }

  /** Sections of the partitions this executor holds. */
  ownedSections(): Set<number> {
    if (this.task !== undefined) return new Set(this.partitions.size > 0 ? [this.task] : []);
    return new Set([...this.partitions.values()].map((p) => p.partition));
  }

  /** One snapshot per owned section. Keys of sections owned elsewhere are counted, not saved. */
  snapshotSections(seq: number): { sections: Map<number, SectionSnapshot>; unowned: number } {
    const owned = this.ownedSections();
    const views: Record<string, number> = {};
    for (const v of this.views) views[v.key] = v.wm;
    const wms: Record<string, number> = {};
    for (const op of this.timed) wms[op.id] = op.wm;
    const kinds = Object.fromEntries(this.kinds);
    const sections = new Map<number, SectionSnapshot>();
    for (const section of owned)
      sections.set(section, {
        v: 3,
        section,
        seq,
        partitions: [],
        inputs: [],
        views,
        wms,
        operators: {},
        kinds,
      });
    for (const p of this.partitions.values()) {
      const snap = sections.get(p.partition)!;
      snap.partitions.push({ topic: p.topic, partition: p.partition, offset: p.offset });
      for (const i of p.inputs)
        snap.inputs.push({
          source: i.source.id,
          topic: i.topic,
          partition: i.partition,
          maxTs: i.maxTs,
          wm: i.wm,
          idle: i.idle,
        });
    }
    const cache = new Map<Key, number>();
    const task = this.task;
    const sectionOf = (k: Key) => {
      if (task !== undefined) return task;
      let s = cache.get(k);
      if (s === undefined) cache.set(k, (s = this.sectionOf(k)));
      return s;
    };
    let unowned = 0;
    for (const op of this.stateful)
      for (const [section, state] of op.snapshot(sectionOf)) {
        const snap = sections.get(section);
        if (snap) snap.operators[op.id] = state;
        else unowned++;
      }
    return { sections, unowned };
  }

  /**
   * Loads sections into the executor before their partitions are added. A fresh executor takes
   * the watermarks of the checkpoint (the smallest, if sections come from processes that had got
   * to different ones); a running one keeps its own: they never go back.
   */
  restoreSections(snaps: readonly SectionSnapshot[], policy: RestorePolicy = {}): void {
    for (const s of snaps) this.check(s, policy);
    if (!this.held && snaps.length > 0) {
      for (const v of this.views) v.wm = Math.min(...snaps.map((s) => s.views[v.key] ?? NEG));
      for (const op of this.timed) op.wm = Math.min(...snaps.map((s) => s.wms[op.id] ?? NEG));
    }
    for (const s of snaps) {
      for (const op of this.stateful) if (Object.hasOwn(s.operators, op.id)) op.restore(s.operators[op.id]);
      for (const p of s.partitions) this.restoredOffsets.set(tpKey(p.topic, p.partition), p.offset);
      for (const i of s.inputs) this.restoredInputs.set(`${i.source}\u0000${tpKey(i.topic, i.partition)}`, i);
    }
  }

  /**
   * A checkpoint's state must find its operators again: state of an operator the pipeline no
   * longer has (a stateful step removed, or its id changed) fails the restore, naming the step,
   * unless the policy drops it; state under an id whose operator now keeps another kind of
   * state always fails. A stateful step new to the pipeline starts empty, as in Flink.
   */
  private check(s: SectionSnapshot, policy: RestorePolicy): void {
    if ((s as { v: unknown }).v !== 3)
      throw new RivuletError(
        "STATE",
        `checkpoint of section ${s.section} has format ${String((s as { v: unknown }).v)}; this version of Rivulet reads format 3`,
      );
    for (const id of Object.keys(s.operators)) {
      const kind = this.kinds.get(id);
      const was = s.kinds[id] ?? "unknown";
      if (kind === undefined) {
        if (policy.allowNonRestoredState) continue;
        throw new RivuletError(
          "STATE",
          `the checkpoint holds ${was} state of operator "${id}", which this pipeline does not have: a stateful step was removed or its id changed. Give the step back its id with .uid("${id}"), or run with allowNonRestoredState: true to drop that state`,
        );
      }
      if (kind !== was)
        throw new RivuletError(
          "STATE",
          `the checkpoint holds ${was} state of operator "${id}", but in this pipeline "${id}" is ${this.labels.get(id)}, which keeps ${kind} state`,
        );
    }
  }

  /** What every stateful operator holds for `key`, by operator id (those holding nothing left out). */
  query(key: Key): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const op of this.stateful) {
      const v = op.query(key);
      if (v !== undefined) Object.defineProperty(out, op.id, { value: v, enumerable: true });
    }
    return out;
  }

  /** Forgets the keyed state of sections no longer owned (after their partitions were revoked). */
  dropSections(sections: ReadonlySet<number>): void {
    if (sections.size === 0) return;
    const owned = (k: Key) => sections.has(this.sectionOf(k));
    for (const op of this.stateful) op.drop(owned);
    for (const k of [...this.restoredOffsets.keys()]) {
      const p = Number(k.slice(k.lastIndexOf("\u0000") + 1));
      if (sections.has(p)) this.restoredOffsets.delete(k);
    }
  }

  /** Offsets the snapshot holds for partitions (to seek the consumer to). */
  restoredOffset(topic: string, partition: number): number | undefined {
    return this.restoredOffsets.get(tpKey(topic, partition));
  }
}

function timestampProblem(ts: unknown): string {
  if (ts === undefined || ts === null) return "timestamp is missing";
  if (typeof ts !== "number") return `timestamp must be a number of epoch milliseconds, got ${typeof ts}`;
  if (Number.isNaN(ts)) return "timestamp is NaN";
  if (ts < 0) return `timestamp ${ts} is negative`;
  return `timestamp ${ts} is not finite`;
}
