import type { WindowJoinNode } from "../pipeline/plan.js";
import { AGGREGATED, LATE, type Push, type RuntimeContext } from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
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

/** What a fired bucket's slot holds until the slots before `head` go. */
const DROPPED: Bucket = { start: Number.NaN, end: Number.NaN, left: new Map(), right: new Map() };

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
  /** Live buckets are `buckets[head..]`: firing a prefix moves `head` (no copy per advance). */
  private buckets: Bucket[] = [];
  private head = 0;
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
      const limits = this.rt.limits;
      if (list === undefined && limits.maxKeysPerOperator !== undefined)
        checkNewKey(limits, `${this.node.label} (${side} side)`, m.size);
      if (limits.maxStateBytesPerKey !== undefined)
        checkStateBytes(limits, `${this.node.label} (${side} side)`, [...(list ?? []), value]);
      if (list) list.push(value);
      else m.set(key, [value]);
      added = true;
    }
    this.rt.fate |= added ? AGGREGATED : LATE;
  }

  private open(start: number, end: number): Bucket {
    const b: Bucket = { start, end, left: new Map(), right: new Map() };
    this.byStart.set(start, b);
    const bs = this.buckets;
    let i = bs.length;
    while (i > this.head && bs[i - 1]!.end > end) i--;
    bs.splice(i, 0, b);
    if (end - 1 < this.nextDue) this.nextDue = end - 1;
    return b;
  }

  advance(wm: number): void {
    this.wm = wm;
    const { fn, label } = this.node;
    const bs = this.buckets;
    const head = this.head;
    let n = 0;
    for (let i = head; i < bs.length; i++) {
      const b = bs[i]!;
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
      for (let i = head; i < head + n; i++) bs[i] = DROPPED; // its records can go now
      this.head = head + n;
      // The fired slots go once they are half the array: O(1) amortized per bucket.
      if (2 * this.head >= bs.length) {
        bs.splice(0, this.head);
        this.head = 0;
      }
      this.first = Number.NaN;
      this.cached.length = 0;
    }
    this.nextDue = this.head < bs.length ? bs[this.head]!.end - 1 : Number.POSITIVE_INFINITY;
  }

  /**
   * Live windows and buffered records, for tests and memory measurements; `slots`: the bucket
   * array's length, fired buckets' slots included (at most twice the live ones).
   */
  liveState(): { windows: number; records: number; slots: number } {
    let records = 0;
    for (const b of this.live())
      for (const side of [b.left, b.right]) for (const vs of side.values()) records += vs.length;
    return { windows: this.buckets.length - this.head, records, slots: this.buckets.length };
  }

  /** The live buckets, by end. */
  private live(): Bucket[] {
    return this.head === 0 ? this.buckets : this.buckets.slice(this.head);
  }

  /** The key's windows and the records each side has in them. */
  query(key: Key): unknown {
    const out: { start: number; end: number; left: unknown[]; right: unknown[] }[] = [];
    for (const b of this.live()) {
      const left = b.left.get(key);
      const right = b.right.get(key);
      if (left || right) out.push({ start: b.start, end: b.end, left: left ?? [], right: right ?? [] });
    }
    return out.length > 0 ? out : undefined;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, [number, number, [Key, unknown[]][], [Key, unknown[]][]][]>();
    for (const b of this.live()) {
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
    for (const b of this.live()) {
      dropKeys(b.left, owned);
      dropKeys(b.right, owned);
    }
  }
}
