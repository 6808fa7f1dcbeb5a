import type { WindowJoinNode } from "../pipeline/plan.js";
import { AGGREGATED, LATE, type Push, type RuntimeContext } from "../runtime/context.js";
import { windowStart } from "../time/windows.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, sortKeys, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

interface Bucket {
  start: number;
  end: number;
  left: Map<Key, unknown[]>;
  right: Map<Key, unknown[]>;
}

/**
 * Window join of two keyed streams (Flink's `join().where().equalTo().window()`): when a
 * window fires, every left record of a key pairs with every right record of the same key in
 * that window, in (key, left arrival, right arrival) order, with timestamp `end - 1`.
 */
export class WindowJoinOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly pushLeft: Push;
  readonly pushRight: Push;
  private buckets: Bucket[] = [];
  private byStart = new Map<number, Bucket>();
  private readonly size: number;
  private readonly slide: number;
  private readonly offset: number;
  /** Start of the latest window holding the last record's slide, and those windows' buckets. */
  private first = Number.NaN;
  private readonly cached: Bucket[] = [];

  constructor(
    readonly id: string,
    private readonly node: WindowJoinNode,
    private readonly rt: RuntimeContext,
    private readonly next: Push,
  ) {
    const w = node.window;
    if (w.kind === "session") throw new Error("window joins take tumbling or sliding windows");
    this.size = w.size;
    this.slide = w.kind === "sliding" ? w.slide : w.size;
    this.offset = w.offset;
    this.pushLeft = (value, ts, key) => this.add("left", value, ts, key);
    this.pushRight = (value, ts, key) => this.add("right", value, ts, key);
  }

  private add(side: "left" | "right", value: unknown, ts: number, key: Key): void {
    const { size, slide } = this;
    // As in WindowOperator: the latest slide's start and its windows' buckets are cached.
    let first = this.first;
    const cache = this.cached;
    if (!(ts >= first && ts < first + slide)) {
      first = this.first = windowStart(ts, slide, this.offset);
      cache.length = 0;
    }
    let added = false;
    let k = 0;
    for (let start = first; start > ts - size; start -= slide, k++) {
      const end = start + size;
      if (end - 1 <= this.wm) break;
      let b = cache[k];
      if (b === undefined) cache[k] = b = this.byStart.get(start) ?? this.open(start, end);
      const m = b[side];
      const list = m.get(key);
      if (list) list.push(value);
      else m.set(key, [value]);
      added = true;
    }
    this.rt.fate |= added ? AGGREGATED : LATE;
  }

  private open(start: number, end: number): Bucket {
    const b: Bucket = { start, end, left: new Map(), right: new Map() };
    this.byStart.set(start, b);
    let i = this.buckets.length;
    while (i > 0 && this.buckets[i - 1]!.end > end) i--;
    this.buckets.splice(i, 0, b);
    if (end - 1 < this.nextDue) this.nextDue = end - 1;
    return b;
  }

  advance(wm: number): void {
    this.wm = wm;
    const { fn, label } = this.node;
    let n = 0;
    for (const b of this.buckets) {
      if (b.end - 1 > wm) break;
      n++;
      this.byStart.delete(b.start);
      const keys = sortKeys([...b.left.keys()].filter((k) => b.right.has(k)));
      for (const k of keys) {
        const rs = b.right.get(k)!;
        for (const l of b.left.get(k)!)
          for (const r of rs) {
            let out: unknown;
            try {
              out = fn(l, r);
            } catch (e) {
              this.rt.userError(userFailure(label, e), {
                key: k,
                timestamp: b.end - 1,
                what: `window join [${b.start}, ${b.end})`,
              });
              continue;
            }
            this.next(out, b.end - 1, k);
          }
      }
    }
    if (n > 0) {
      this.buckets = this.buckets.slice(n);
      this.first = Number.NaN;
      this.cached.length = 0;
    }
    this.nextDue = this.buckets.length ? this.buckets[0]!.end - 1 : Number.POSITIVE_INFINITY;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, [number, number, [Key, unknown[]][], [Key, unknown[]][]][]>();
    for (const b of this.buckets) {
      const left = bySection(b.left, sectionOf);
      const right = bySection(b.right, sectionOf);
      for (const section of new Set([...left.keys(), ...right.keys()])) {
        const entry: [number, number, [Key, unknown[]][], [Key, unknown[]][]] = [
          b.start,
          b.end,
          left.get(section) ?? [],
          right.get(section) ?? [],
        ];
        const list = out.get(section);
        if (list) list.push(entry);
        else out.set(section, [entry]);
      }
    }
    return out;
  }

  restore(snap: unknown): void {
    for (const [start, end, l, r] of snap as [number, number, [Key, unknown[]][], [Key, unknown[]][]][]) {
      const b = this.byStart.get(start) ?? this.open(start, end);
      for (const [k, vs] of l) b.left.set(k, vs);
      for (const [k, vs] of r) b.right.set(k, vs);
    }
  }

  drop(owned: (key: Key) => boolean): void {
    for (const b of this.buckets) {
      dropKeys(b.left, owned);
      dropKeys(b.right, owned);
    }
  }
}
