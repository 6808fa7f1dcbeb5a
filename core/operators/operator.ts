import { compareKeys } from "../runtime/context.js";
import type { Key } from "../types.js";

/** The state section (a partition number) that owns a key. */
export type SectionOf = (key: Key) => number;

/**
 * An operator that keeps state across records. State is checkpointed in sections, one per
 * partition number, so a partition's state can move with it to another group member.
 */
export interface StatefulOperator {
  /** Stable across builds of the same pipeline definition (its position in the plan). */
  readonly id: string;
  /** The state of every key, grouped by section. */
  snapshot(sectionOf: SectionOf): Map<number, unknown>;
  /** Adds a section's state (sections hold disjoint keys). Timed operators get `wm` set first. */
  restore(snapshot: unknown): void;
  /** Forgets the keys of sections this process no longer owns. */
  drop(owned: (key: Key) => boolean): void;
  /**
   * What the operator holds for one key, readably (results, not accumulators), or undefined
   * when it holds nothing: an interactive query (`Job.query`).
   */
  query(key: Key): unknown;
}

/** Groups `[key, value]` entries by section. */
export function bySection<V>(entries: Iterable<[Key, V]>, sectionOf: SectionOf): Map<number, [Key, V][]> {
  const out = new Map<number, [Key, V][]>();
  for (const e of entries) {
    const s = sectionOf(e[0]);
    const list = out.get(s);
    if (list) list.push(e);
    else out.set(s, [e]);
  }
  return out;
}

/**
 * Keys in firing order (compareKeys: numbers first, then strings). Number keys alone (the common
 * case) sort as a Float64Array, without a comparator call per comparison. Sorts `keys` in place
 * when it does not.
 */
export function sortKeys(keys: Key[]): readonly Key[] | Float64Array {
  const n = keys.length;
  if (n < 2) return keys;
  const nums = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    // NaN is a Map key too; the comparator handles it (and strings) as before.
    if (typeof k !== "number" || Number.isNaN(k)) return keys.sort(compareKeys);
    nums[i] = k;
  }
  return nums.sort();
}

/** The keys of a window's (or bucket's) map in firing order. */
export function sortedKeys(accs: ReadonlyMap<Key, unknown>): readonly Key[] | Float64Array {
  return sortKeys([...accs.keys()]);
}

/** Deletes the owned keys of a map (in place). */
export function dropKeys(m: Map<Key, unknown>, owned: (key: Key) => boolean): void {
  for (const k of [...m.keys()]) if (owned(k)) m.delete(k);
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
