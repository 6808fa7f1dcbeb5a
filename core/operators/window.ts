import { isRivuletError, type RivuletError, UserFunctionError } from "../errors.js";
import type { WindowNode } from "../pipeline/plan.js";
import { AGGREGATED, keyString, LATE, type Push, type RuntimeContext } from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
import { windowStart } from "../time/windows.js";
import type { Key } from "../types.js";
import { bySection, type SectionOf, sortedKeys, type TimedOperator } from "./operator.js";

interface Bucket {
  start: number;
  end: number;
  /** Fired at `end - 1`; it stays for late records until `end - 1 + allowedLateness`. */
  fired: boolean;
  accs: Map<Key, unknown>;
}

/** What a dropped bucket's slot holds until the slots before `head` go. */
const DROPPED: Bucket = { start: Number.NaN, end: Number.NaN, fired: true, accs: new Map() };

/**
 * Tumbling and sliding event-time windows with an aggregator, per key. State is one bucket per
 * live window (sorted by end), each a Map from key to accumulator. Semantics are Flink's
 * (see DESIGN.md "Execution model").
 */
export class WindowOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly push: Push;
  /** Live buckets are `buckets[head..]`: dropping a prefix moves `head` (no copy per advance). */
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
    private readonly node: WindowNode,
    private readonly rt: RuntimeContext,
    private readonly next: Push,
  ) {
    const w = node.window;
    if (w.kind === "session") throw new Error("WindowOperator handles tumbling and sliding windows");
    this.size = w.size;
    this.slide = w.kind === "sliding" ? w.slide : w.size;
    this.offset = w.offset;
    this.push = (value, ts, key) => this.add(value, ts, key);
  }

  private add(value: unknown, ts: number, key: Key): void {
    const { size, slide, node, rt } = this;
    const lateness = node.allowedLateness;
    const agg = node.aggregator;
    const limits = rt.limits;
    // Records come mostly in order: the latest window start and its buckets (the windows of
    // that slide, newest first) are cached, so the common record needs no `%` and no lookup by
    // start (an epoch-ms double) until event time moves on to the next slide.
    let first = this.first;
    const cache = this.cached;
    if (!(ts >= first && ts < first + slide)) {
      first = this.first = windowStart(ts, slide, this.offset);
      cache.length = 0;
    }
    if (limits.maxKeysPerOperator !== undefined && slide < size) this.checkKeys(key, first, ts);
    let added = false;
    let k = 0;
    for (let start = first; start > ts - size; start -= slide, k++) {
      const end = start + size;
      // Older windows end earlier: once one is past its lateness, all the rest are too.
      if (end - 1 + lateness <= this.wm) break;
      let b = cache[k];
      if (b === undefined) cache[k] = b = this.byStart.get(start) ?? this.open(start, end);
      const accs = b.accs;
      let acc = accs.get(key);
      const known = acc !== undefined || accs.has(key);
      if (!known) {
        if (limits.maxKeysPerOperator !== undefined) checkNewKey(limits, node.label, accs.size);
        acc = agg.init();
      }
      let next: unknown;
      try {
        next = agg.add(acc, value);
      } catch (e) {
        throw userFailure(node.label, e);
      }
      if (limits.maxStateBytesPerKey !== undefined) checkStateBytes(limits, node.label, next);
      // An accumulator mutated in place is already in the map.
      if (!known || next !== acc) accs.set(key, next);
      added = true;
      if (b.fired) this.emit(b, key, next); // a late record within the allowed lateness fires again
    }
    if (added) rt.fate |= AGGREGATED;
    else {
      rt.fate |= LATE;
      if (node.lateTo !== undefined) rt.write(node.lateTo, keyString(key), value, ts);
    }
  }

  /**
   * With `limits.maxKeysPerOperator`, before a record touches any of its sliding windows: every
   * one of them takes its key, or none is changed.
   */
  private checkKeys(key: Key, first: number, ts: number): void {
    const label = this.node.label;
    for (let start = first; start > ts - this.size; start -= this.slide) {
      if (start + this.size - 1 + this.node.allowedLateness <= this.wm) break;
      const accs = this.byStart.get(start)?.accs;
      if (accs && !accs.has(key)) checkNewKey(this.rt.limits, label, accs.size);
    }
  }

  /** Forgets the cached buckets (some were dropped). */
  private uncache(): void {
    this.first = Number.NaN;
    this.cached.length = 0;
  }

  private open(start: number, end: number): Bucket {
    const b: Bucket = { start, end, fired: end - 1 <= this.wm, accs: new Map() };
    this.byStart.set(start, b);
    const bs = this.buckets;
    let i = bs.length;
    while (i > this.head && bs[i - 1]!.end > end) i--;
    bs.splice(i, 0, b);
    const due = b.fired ? end - 1 + this.node.allowedLateness : end - 1;
    if (due < this.nextDue) this.nextDue = due;
    return b;
  }

  private emit(b: Bucket, key: Key, acc: unknown): void {
    let value: unknown;
    try {
      value = this.node.aggregator.result(acc);
    } catch (e) {
      this.rt.userError(userFailure(this.node.label, e), {
        key,
        timestamp: b.end - 1,
        what: `window [${b.start}, ${b.end})`,
      });
      return;
    }
    this.rt.counters.windowsFired++;
    this.next({ key, start: b.start, end: b.end, value }, b.end - 1, key);
  }

  advance(wm: number): void {
    this.wm = wm;
    const lateness = this.node.allowedLateness;
    const bs = this.buckets;
    const head = this.head;
    let drop = 0;
    for (let i = head; i < bs.length; i++) {
      const b = bs[i]!;
      if (b.end - 1 > wm) break;
      if (!b.fired) {
        b.fired = true;
        for (const k of sortedKeys(b.accs)) this.emit(b, k, b.accs.get(k));
      }
      if (b.end - 1 + lateness <= wm) drop++;
    }
    // Cleanup times grow with `end`, so the buckets to drop are a prefix.
    if (drop > 0) {
      for (let i = head; i < head + drop; i++) {
        this.byStart.delete(bs[i]!.start);
        bs[i] = DROPPED; // its accumulators can go now
      }
      this.head = head + drop;
      // The dropped slots go once they are half the array: O(1) amortized per bucket.
      if (2 * this.head >= bs.length) {
        bs.splice(0, this.head);
        this.head = 0;
      }
      this.uncache();
    }
    this.nextDue = this.computeNextDue();
  }

  private computeNextDue(): number {
    let due = Number.POSITIVE_INFINITY;
    const bs = this.buckets;
    for (let i = this.head; i < bs.length; i++) {
      const b = bs[i]!;
      const t = b.fired ? b.end - 1 + this.node.allowedLateness : b.end - 1;
      if (t < due) due = t;
      if (!b.fired) break;
    }
    return due;
  }

  /**
   * Live windows and keys, for metrics and memory measurements; `slots`: the bucket array's
   * length, dropped buckets' slots included (at most twice the live ones).
   */
  liveState(): { windows: number; entries: number; slots: number } {
    let entries = 0;
    for (const b of this.live()) entries += b.accs.size;
    return { windows: this.buckets.length - this.head, entries, slots: this.buckets.length };
  }

  /** The key's windows, by end: `{ start, end, fired, value }` (the aggregate's result so far). */
  query(key: Key): unknown {
    const out: { start: number; end: number; fired: boolean; value: unknown }[] = [];
    for (const b of this.live())
      if (b.accs.has(key))
        out.push({
          start: b.start,
          end: b.end,
          fired: b.fired,
          value: this.node.aggregator.result(b.accs.get(key)),
        });
    return out.length > 0 ? out : undefined;
  }

  /** The live buckets, by end. */
  private live(): Bucket[] {
    return this.head === 0 ? this.buckets : this.buckets.slice(this.head);
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, [number, number, boolean, [Key, unknown][]][]>();
    for (const b of this.live())
      for (const [section, entries] of bySection(b.accs, sectionOf)) {
        const list = out.get(section);
        if (list) list.push([b.start, b.end, b.fired, entries]);
        else out.set(section, [[b.start, b.end, b.fired, entries]]);
      }
    return out;
  }

  /** Whether a window has fired is part of its state: another process's watermark decided it. */
  restore(snap: unknown): void {
    for (const [start, end, fired, entries] of snap as [number, number, boolean, [Key, unknown][]][]) {
      const b = this.byStart.get(start) ?? this.open(start, end);
      if (fired) b.fired = true;
      for (const [k, acc] of entries) b.accs.set(k, acc);
    }
    this.uncache();
    this.nextDue = this.computeNextDue();
  }

  drop(owned: (key: Key) => boolean): void {
    const live = this.live();
    for (const b of live) for (const k of [...b.accs.keys()]) if (owned(k)) b.accs.delete(k);
    for (const b of live) if (b.accs.size === 0) this.byStart.delete(b.start);
    this.buckets = live.filter((b) => b.accs.size > 0);
    this.head = 0;
    this.uncache();
    this.nextDue = this.computeNextDue();
  }
}

export function userFailure(step: string, e: unknown): RivuletError {
  // A limit reached inside a user function (a state write) is the limit's error, not the function's.
  if (isRivuletError(e) && e.code === "LIMIT") return e;
  return new UserFunctionError(step, e);
}
