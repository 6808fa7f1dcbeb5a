import type { PartitionBatch } from "../broker/records.js";
import { PipelineError } from "../errors.js";
import type { PlanNode } from "../pipeline/plan.js";
import type { Key, TopicPartition } from "../types.js";
import { inputsOf, type Plan } from "./compile.js";
import type { RuntimeContext } from "./context.js";
import {
  Executor,
  type OperatorWatermark,
  type PartitionState,
  type RestorePolicy,
  type SectionSnapshot,
} from "./executor.js";

/**
 * How a job divides its work. `shared` (the default, Flink's model): one set of operators for
 * every partition the process holds; `keyBy` shuffles in memory and an operator's watermark is
 * the minimum over all of them. `per-partition` (Kafka Streams' model): partition number N of
 * every source topic is one task with operators, state and watermarks of its own, so results
 * do not depend on which member of a group holds which partition, nor on how partitions move.
 *
 * @example
 * // Kafka Streams' model on in-memory topics too (it is the default on Kafka):
 * const job = await run(perMinute, { broker, tasks: "per-partition" });
 */
export type TaskMode = "shared" | "per-partition";

/** What the job loop needs of the executors, whichever way the work is divided. */
export interface Tasks {
  readonly plan: Plan;
  /** State sections: the largest partition count among the source topics. */
  sections: number;
  readonly partitions: ReadonlyMap<string, PartitionState>;
  topics(): string[];
  addPartitions(tps: readonly TopicPartition[], now: number): PartitionState[];
  removePartition(topic: string, partition: number): void;
  process(part: PartitionState, batch: PartitionBatch, now: number): void;
  /** True when anything ran (state may have changed). */
  onProcessingTime(now: number): boolean;
  nextProcessingDeadline(): number;
  endOfInput(upTo?: number): void;
  watermark(): number;
  /** Each event-time operator's watermark (per task with `per-partition` tasks). */
  operators(): OperatorWatermark[];
  ownedSections(): Set<number>;
  snapshotSections(seq: number): { sections: Map<number, SectionSnapshot> };
  restoreSections(snaps: readonly SectionSnapshot[], policy?: RestorePolicy): void;
  dropSections(sections: ReadonlySet<number>): void;
  query(key: Key): Record<string, unknown>;
}

export function createTasks(mode: TaskMode, plan: Plan, rt: RuntimeContext): Tasks {
  return mode === "per-partition" ? new PartitionTasks(plan, rt) : new Executor(plan, rt);
}

/**
 * One executor per partition number. A task starts from its own checkpoint (watermarks
 * included) when its partitions are assigned, and goes away with them. Needs co-partitioned
 * input: a record whose key belongs to another partition goes to the dead-letter topic.
 */
export class PartitionTasks implements Tasks {
  readonly partitions = new Map<string, PartitionState>();
  private readonly tasks = new Map<number, Executor>();
  sections = 1;

  constructor(
    readonly plan: Plan,
    private readonly rt: RuntimeContext,
  ) {
    checkRekeying(plan);
  }

  topics(): string[] {
    return [...new Set(this.plan.sources.map((s) => s.topic))];
  }

  private task(n: number): Executor {
    let t = this.tasks.get(n);
    if (!t) {
      t = new Executor(this.plan, this.rt, n);
      t.sections = this.sections;
      this.tasks.set(n, t);
    }
    return t;
  }

  addPartitions(tps: readonly TopicPartition[], now: number): PartitionState[] {
    const byTask = new Map<number, TopicPartition[]>();
    for (const tp of tps) {
      const list = byTask.get(tp.partition);
      if (list) list.push(tp);
      else byTask.set(tp.partition, [tp]);
    }
    const out: PartitionState[] = [];
    for (const [n, list] of byTask)
      for (const part of this.task(n).addPartitions(list, now)) {
        this.partitions.set(`${part.topic}\u0000${part.partition}`, part);
        out.push(part);
      }
    return out;
  }

  removePartition(topic: string, partition: number): void {
    this.tasks.get(partition)?.removePartition(topic, partition);
    this.partitions.delete(`${topic}\u0000${partition}`);
  }

  process(part: PartitionState, batch: PartitionBatch, now: number): void {
    this.tasks.get(part.partition)!.process(part, batch, now);
  }

  onProcessingTime(now: number): boolean {
    let ran = false;
    for (const t of this.tasks.values()) ran = t.onProcessingTime(now) || ran;
    return ran;
  }

  nextProcessingDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const t of this.tasks.values()) d = Math.min(d, t.nextProcessingDeadline());
    return d;
  }

  endOfInput(upTo?: number): void {
    for (const t of this.tasks.values()) t.endOfInput(upTo);
  }

  /** The smallest watermark over the tasks (the job's event-time progress). */
  watermark(): number {
    let w = Number.POSITIVE_INFINITY;
    for (const t of this.tasks.values()) w = Math.min(w, t.watermark());
    return this.tasks.size > 0 ? w : Number.NEGATIVE_INFINITY;
  }

  operators(): OperatorWatermark[] {
    return [...this.tasks.values()].flatMap((t) => t.operators());
  }

  ownedSections(): Set<number> {
    const owned = new Set<number>();
    for (const [n, t] of this.tasks) if (t.partitions.size > 0) owned.add(n);
    return owned;
  }

  snapshotSections(seq: number): { sections: Map<number, SectionSnapshot> } {
    const sections = new Map<number, SectionSnapshot>();
    for (const [n, t] of this.tasks) {
      if (t.partitions.size === 0) continue;
      const snap = t.snapshotSections(seq).sections.get(n);
      if (snap) sections.set(n, snap);
    }
    return { sections };
  }

  /** Each section becomes a fresh task that starts from the checkpoint's own watermarks. */
  restoreSections(snaps: readonly SectionSnapshot[], policy?: RestorePolicy): void {
    for (const s of snaps) this.task(s.section).restoreSections([s], policy);
  }

  dropSections(sections: ReadonlySet<number>): void {
    for (const n of sections) this.tasks.delete(n);
  }

  query(key: Key): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const t of this.tasks.values())
      for (const [id, v] of Object.entries(t.query(key)))
        Object.defineProperty(out, id, { value: v, enumerable: true });
    return out;
  }
}

/**
 * A task only holds the keys of its partition, so a `keyBy` of records that keyed operators
 * made (window results, process outputs, join results) must go through a repartition topic.
 */
function checkRekeying(plan: Plan): void {
  const stateful = (n: PlanNode): PlanNode | undefined => {
    switch (n.kind) {
      case "source":
      case "repartition": // downstream of it, records come back from its topic
        return undefined;
      case "map":
      case "filter":
      case "flatMap":
      case "keyBy":
      case "union":
        for (const e of inputsOf(n)) {
          const found = stateful(e.node);
          if (found) return found;
        }
        return undefined;
      default:
        return n;
    }
  };
  for (const n of plan.nodes) {
    if (n.kind !== "keyBy") continue;
    const onlyRepartitioned = (plan.consumers.get(n) ?? []).every((e) => e.node.kind === "repartition");
    const upstream = onlyRepartitioned ? undefined : stateful(n.input);
    if (upstream)
      throw new PipelineError(
        n.label,
        `with per-partition tasks, records made by ${upstream.label} can only change key through a topic: add .repartition() after this keyBy`,
      );
  }
}
