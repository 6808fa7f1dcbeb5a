import type { IntervalJoinNode } from "../pipeline/plan.js";
import { AGGREGATED, LATE, type Push, type RuntimeContext } from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
import { Heap, STALE_SLACK } from "../time/heap.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

interface Entry {
  value: unknown;
  ts: number;
  /** Arrival order: a record's matches are emitted in it. */
  seq: number;
  /** The record's output id base, when outputs get ids (`RuntimeContext.ids`). */
  base?: string;
}

/**
 * One key's buffered records of one side, sorted by timestamp (equal ones in arrival order),
 * live from `head` on. A side's cleanup time is `ts` plus a constant, so the records to drop
 * are always a prefix.
 */
interface KeyBuffer {
  entries: Entry[];
  head: number;
  /** The time of the buffer's cleanup entry in the heap: its head's cleanup time. */
  due: number;
}

interface Cleanup {
  time: number;
  key: Key;
  left: boolean;
}

/**
 * Interval join of two keyed streams (Flink's `intervalJoin().between(lower, upper)`): a left
 * record at `t` matches right records in `[t + lower, t + upper]`. Each side is buffered per key
 * until the watermark makes a match impossible. Records with `ts < watermark` are late.
 * Results carry `max(left.ts, right.ts)`; a record's matches come in their arrival order.
 *
 * As Flink's IntervalJoinOperator: a left record is dropped once the watermark reaches
 * `ts + max(upper, 0)`, a right one at `ts - min(lower, 0)` (its cleanup time). Per key and side
 * the buffer is sorted by timestamp, so matches are found by binary search and cleanup drops a
 * prefix; the cleanup heap holds one live entry per buffer (its head's cleanup time), plus stale
 * ones (from records that arrived out of order) that a rebuild bounds (STALE_SLACK).
 */
export class IntervalJoinOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly pushLeft: Push;
  readonly pushRight: Push;
  private left = new Map<Key, KeyBuffer>();
  private right = new Map<Key, KeyBuffer>();
  private cleanups = new Heap<Cleanup>((a, b) => a.time < b.time);
  private seq = 0;
  /** Where `inArrivalOrder` found the matches in the array it returned. */
  private from = 0;
  private to = 0;
  private readonly lower: number;
  private readonly upper: number;
  private readonly label: string;

  constructor(
    readonly id: string,
    node: IntervalJoinNode,
    private readonly rt: RuntimeContext,
    next: Push,
  ) {
    const { lower, upper, fn, label } = node;
    this.label = label;
    this.lower = lower;
    this.upper = upper;
    const emit = (l: Entry, r: Entry, key: Key) => {
      let out: unknown;
      try {
        out = fn(l.value, r.value);
      } catch (e) {
        throw userFailure(label, e);
      }
      // A pair's id is its two records', whichever of them came second (that depends on how
      // the two sides' polls interleave, which a replay need not repeat).
      if (rt.ids) rt.pin(`${l.base}+${r.base}`);
      next(out, Math.max(l.ts, r.ts), key);
      if (rt.ids) rt.pin(undefined);
    };
    this.pushLeft = (value, ts, key) => {
      if (!this.admit(ts)) return;
      const e: Entry = { value, ts, seq: this.seq++ };
      if (rt.ids) e.base = rt.recordBase();
      this.insert(this.left, true, key, e);
      const others = this.right.get(key);
      if (!others) return;
      // Right records with r.ts >= ts + lower and r.ts <= ts + upper.
      const es = others.entries;
      const lo = ts + lower;
      const hi = ts + upper;
      let a = others.head;
      let b = es.length;
      while (a < b) {
        const m = (a + b) >> 1;
        if (es[m]!.ts >= lo) b = m;
        else a = m + 1;
      }
      let end = a;
      while (end < es.length && es[end]!.ts <= hi) end++;
      const ms = this.inArrivalOrder(es, a, end);
      for (let i = this.from; i < this.to; i++) emit(e, ms[i]!, key);
    };
    this.pushRight = (value, ts, key) => {
      if (!this.admit(ts)) return;
      const e: Entry = { value, ts, seq: this.seq++ };
      if (rt.ids) e.base = rt.recordBase();
      this.insert(this.right, false, key, e);
      const others = this.left.get(key);
      if (!others) return;
      // Left records with ts <= l.ts + upper and ts >= l.ts + lower.
      const es = others.entries;
      let a = others.head;
      let b = es.length;
      while (a < b) {
        const m = (a + b) >> 1;
        if (es[m]!.ts + upper >= ts) b = m;
        else a = m + 1;
      }
      let end = a;
      while (end < es.length && es[end]!.ts + lower <= ts) end++;
      const ms = this.inArrivalOrder(es, a, end);
      for (let i = this.from; i < this.to; i++) emit(ms[i]!, e, key);
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

  private cleanupTime(left: boolean, ts: number): number {
    return left ? ts + Math.max(this.upper, 0) : ts - Math.min(this.lower, 0);
  }

  /**
   * The matches `es[from, to)` in arrival order: `es` itself when they are (records mostly
   * come in order), else a sorted copy. Sets `this.from`/`this.to` to their range in it.
   */
  private inArrivalOrder(es: Entry[], from: number, to: number): Entry[] {
    for (let i = from + 1; i < to; i++)
      if (es[i]!.seq < es[i - 1]!.seq) {
        this.from = 0;
        this.to = to - from;
        return es.slice(from, to).sort((x, y) => x.seq - y.seq);
      }
    this.from = from;
    this.to = to;
    return es;
  }

  /** Adds a record to its key's buffer, in timestamp order; schedules the buffer's cleanup. */
  private insert(side: Map<Key, KeyBuffer>, left: boolean, key: Key, e: Entry): void {
    const buf = side.get(key);
    const limits = this.rt.limits;
    if (buf === undefined && limits.maxKeysPerOperator !== undefined)
      checkNewKey(limits, `${this.label} (${left ? "left" : "right"} side)`, side.size);
    if (limits.maxStateBytesPerKey !== undefined) {
      const held = buf ? buf.entries.slice(buf.head).map((x) => x.value) : [];
      checkStateBytes(limits, `${this.label} (${left ? "left" : "right"} side)`, [...held, e.value]);
    }
    if (buf === undefined) {
      const due = this.cleanupTime(left, e.ts);
      side.set(key, { entries: [e], head: 0, due });
      this.schedule(due, key, left);
      return;
    }
    const es = buf.entries;
    const n = es.length;
    if (es[n - 1]!.ts <= e.ts) {
      es.push(e);
      return;
    }
    // Out of order: after the last record with ts <= e.ts.
    let a = buf.head;
    let b = n - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (es[m]!.ts > e.ts) b = m;
      else a = m + 1;
    }
    es.splice(a, 0, e);
    if (a === buf.head) {
      const due = this.cleanupTime(left, e.ts);
      if (due < buf.due) {
        buf.due = due; // the old entry goes stale
        this.schedule(due, key, left);
      }
    }
  }

  private schedule(time: number, key: Key, left: boolean): void {
    this.cleanups.push({ time, key, left });
    if (time < this.nextDue) this.nextDue = time;
    if (this.cleanups.size > 2 * (this.left.size + this.right.size) + STALE_SLACK) this.compact();
  }

  /** Rebuilds the cleanup heap from the buffers: one entry each, stale ones gone. */
  private compact(): void {
    const cs: Cleanup[] = [];
    for (const [key, buf] of this.left) cs.push({ time: buf.due, key, left: true });
    for (const [key, buf] of this.right) cs.push({ time: buf.due, key, left: false });
    this.cleanups.rebuild(cs);
  }

  advance(wm: number): void {
    this.wm = wm;
    const cleanups = this.cleanups;
    for (let c = cleanups.peek(); c !== undefined && c.time <= wm; c = cleanups.peek()) {
      cleanups.pop();
      const side = c.left ? this.left : this.right;
      const buf = side.get(c.key);
      if (buf === undefined || buf.due !== c.time) continue; // stale
      const es = buf.entries;
      let h = buf.head;
      while (h < es.length && this.cleanupTime(c.left, es[h]!.ts) <= wm) h++;
      if (h === es.length) {
        side.delete(c.key);
        continue;
      }
      if (h >= 16 && 2 * h >= es.length) {
        es.splice(0, h); // dropped slots go once they are half the array: O(1) amortized
        h = 0;
      }
      buf.head = h;
      buf.due = c.time = this.cleanupTime(c.left, es[h]!.ts);
      cleanups.push(c);
    }
    this.nextDue = cleanups.peek()?.time ?? Number.POSITIVE_INFINITY;
  }

  /** Buffered keys and records per side, and cleanup heap entries (stale ones included). */
  liveState(): { keys: number; records: number; maxPerKey: number; cleanups: number } {
    let records = 0;
    let maxPerKey = 0;
    for (const side of [this.left, this.right])
      for (const buf of side.values()) {
        const n = buf.entries.length - buf.head;
        records += n;
        if (n > maxPerKey) maxPerKey = n;
      }
    return { keys: this.left.size + this.right.size, records, maxPerKey, cleanups: this.cleanups.size };
  }

  /** Per key `[value, ts, cleanup]` in arrival order (the order matches are emitted in). */
  /** The key's buffered records of each side, by timestamp. */
  query(key: Key): unknown {
    const side = (m: Map<Key, KeyBuffer>) => {
      const b = m.get(key);
      return b ? b.entries.slice(b.head).map((e) => ({ value: e.value, timestamp: e.ts })) : [];
    };
    const left = side(this.left);
    const right = side(this.right);
    return left.length + right.length > 0 ? { left, right } : undefined;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, { left: unknown[]; right: unknown[] }>();
    const add = (side: "left" | "right", m: Map<Key, KeyBuffer>) => {
      for (const [section, entries] of bySection(m, sectionOf)) {
        let snap = out.get(section);
        if (!snap) out.set(section, (snap = { left: [], right: [] }));
        for (const [k, buf] of entries) {
          const es = buf.entries.slice(buf.head).sort((x, y) => x.seq - y.seq);
          snap[side].push([
            k,
            es.map((e) =>
              e.base === undefined
                ? [e.value, e.ts, this.cleanupTime(side === "left", e.ts)]
                : [e.value, e.ts, this.cleanupTime(side === "left", e.ts), e.base],
            ),
          ]);
        }
      }
    };
    add("left", this.left);
    add("right", this.right);
    return out;
  }

  restore(snap: unknown): void {
    type Side = [Key, [unknown, number, number, string?][]][];
    const s = snap as { left: Side; right: Side };
    const load = (m: Map<Key, KeyBuffer>, left: boolean, side: Side) => {
      for (const [k, es] of side)
        for (const [value, ts, , base] of es)
          this.insert(
            m,
            left,
            k,
            base === undefined ? { value, ts, seq: this.seq++ } : { value, ts, seq: this.seq++, base },
          );
    };
    load(this.left, true, s.left);
    load(this.right, false, s.right);
  }

  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.left, owned);
    dropKeys(this.right, owned);
    this.compact();
    this.nextDue = this.cleanups.peek()?.time ?? Number.POSITIVE_INFINITY;
  }
}
