import type { RuntimeContext } from "../runtime/context.js";

/** An operator that keeps state across records: it can be snapshotted and restored. */
export interface StatefulOperator {
  /** Stable across builds of the same pipeline definition (its position in the plan). */
  readonly id: string;
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}

/**
 * An operator that acts on event time. The executor moves `wm` forward and calls `advance`
 * only once the watermark reaches `nextDue`: the cheap per-record check.
 */
export interface TimedOperator extends StatefulOperator {
  /** The operator's current input watermark. */
  wm: number;
  /** Earliest watermark at which `advance` has work; +Infinity when none. */
  nextDue: number;
  advance(watermark: number): void;
  /** Earliest processing time at which `onProcessingTime` has work (process steps only). */
  nextProcessingDue?: number;
  onProcessingTime?(now: number): void;
}

export interface OperatorContext {
  readonly rt: RuntimeContext;
  readonly id: string;
}
