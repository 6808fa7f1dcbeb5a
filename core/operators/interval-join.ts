import type { IntervalJoinNode } from "../pipeline/plan.js";
import { AGGREGATED, LATE, type Push, type RuntimeContext } from "../runtime/context.js";
import { Heap } from "../time/heap.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

interface Entry {
  value: unknown;
  ts: number;
  /** Once the watermark reaches this, no record from the other side can match. */
  cleanup: number;
}

interface Cleanup {
  time: number;
  key: Key;
}

/**
 * Interval join of two keyed streams (Flink's `intervalJoin().between(lower, upper)`): a left
 * record at `t` matches right records in `[t + lower, t + upper]`. Each side is buffered per key
 * until the watermark reaches its cleanup time (`ts + max(upper, 0)` on the left,
 * `ts - min(lower, 0)` on the right), as in Flink's IntervalJoinOperator. Records with
 * `ts < watermark` are late.
 * Results carry `max(left.ts, right.ts)`.
 */
export class IntervalJoinOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly pushLeft: Push;
  readonly pushRight: Push;
  private left = new Map<Key, Entry[]>();
  private right = new Map<Key, Entry[]>();
  private cleanups = new Heap<Cleanup>((a, b) => a.time < b.time);

  constructor(
    readonly id: string,
    node: IntervalJoinNode,
    private readonly rt: RuntimeContext,
    next: Push,
  ) {
    const { lower, upper, fn, label } = node;
    const emit = (l: Entry | undefined, r: Entry | undefined, key: Key, lv: unknown, rv: unknown) => {
      let out: unknown;
      try {
        out = fn(lv, rv);
      } catch (e) {
        throw userFailure(label, e);
      }
      next(out, Math.max(l?.ts ?? 0, r?.ts ?? 0), key);
    };
    this.pushLeft = (value, ts, key) => {
      if (!this.admit(ts)) return;
      const e: Entry = { value, ts, cleanup: ts + Math.max(upper, 0) };
      this.buffer(this.left, key, e);
      const others = this.right.get(key);
      if (others)
        for (const r of others) if (r.ts >= ts + lower && r.ts <= ts + upper) emit(e, r, key, value, r.value);
    };
    this.pushRight = (value, ts, key) => {
      if (!this.admit(ts)) return;
      const e: Entry = { value, ts, cleanup: ts - Math.min(lower, 0) };
      this.buffer(this.right, key, e);
      const others = this.left.get(key);
      if (others)
        for (const l of others) if (ts >= l.ts + lower && ts <= l.ts + upper) emit(l, e, key, l.value, value);
    };
  }

  /** Flink's IntervalJoinOperator.isLate: `timestamp < currentWatermark`. */
  private admit(ts: number): boolean {
    if (ts < this.wm) {
      this.rt.fate |= LATE;
      return false;
    }
    this.rt.fate |= AGGREGATED;
    return true;
  }

  private buffer(side: Map<Key, Entry[]>, key: Key, e: Entry): void {
    const list = side.get(key);
    if (list) list.push(e);
    else side.set(key, [e]);
    this.cleanups.push({ time: e.cleanup, key });
    if (e.cleanup < this.nextDue) this.nextDue = e.cleanup;
  }

  advance(wm: number): void {
    this.wm = wm;
    for (let c = this.cleanups.peek(); c !== undefined && c.time <= wm; c = this.cleanups.peek()) {
      this.cleanups.pop();
      prune(this.left, c.key, wm);
      prune(this.right, c.key, wm);
    }
    this.nextDue = this.cleanups.peek()?.time ?? Number.POSITIVE_INFINITY;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, { left: unknown[]; right: unknown[] }>();
    const add = (side: "left" | "right", m: Map<Key, Entry[]>) => {
      for (const [section, entries] of bySection(m, sectionOf)) {
        let snap = out.get(section);
        if (!snap) out.set(section, (snap = { left: [], right: [] }));
        for (const [k, es] of entries) snap[side].push([k, es.map((e) => [e.value, e.ts, e.cleanup])]);
      }
    };
    add("left", this.left);
    add("right", this.right);
    return out;
  }

  restore(snap: unknown): void {
    type Side = [Key, [unknown, number, number][]][];
    const s = snap as { left: Side; right: Side };
    const load = (m: Map<Key, Entry[]>, side: Side) => {
      for (const [k, es] of side) {
        const list = es.map(([value, ts, cleanup]) => ({ value, ts, cleanup }));
        m.set(k, list);
        for (const e of list) {
          this.cleanups.push({ time: e.cleanup, key: k });
          if (e.cleanup < this.nextDue) this.nextDue = e.cleanup;
        }
      }
    };
    load(this.left, s.left);
    load(this.right, s.right);
  }

  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.left, owned);
    dropKeys(this.right, owned);
  }
}

function prune(side: Map<Key, Entry[]>, key: Key, wm: number): void {
  const list = side.get(key);
  if (!list) return;
  const kept = list.filter((e) => e.cleanup > wm);
  if (kept.length === 0) side.delete(key);
  else if (kept.length !== list.length) side.set(key, kept);
}
