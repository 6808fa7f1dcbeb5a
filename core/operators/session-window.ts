import type { WindowNode } from "../pipeline/plan.js";
import {
  AGGREGATED,
  compareKeys,
  keyString,
  LATE,
  type Push,
  type RuntimeContext,
} from "../runtime/context.js";
import { Heap } from "../time/heap.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

interface Session {
  start: number;
  end: number;
  acc: unknown;
  /** `end` when it last fired (a session that grows fires again at its new end). */
  firedEnd: number;
  live: boolean;
}

interface Timer {
  time: number;
  key: Key;
  session: Session;
  cleanup: boolean;
}

const before = (a: Timer, b: Timer) =>
  a.time < b.time ||
  (a.time === b.time && (compareKeys(a.key, b.key) < 0 || (a.key === b.key && !a.cleanup && b.cleanup)));

/**
 * Event-time session windows per key: a record opens `[ts, ts + gap)`, intersecting sessions
 * merge (accumulators through the aggregator's `merge`), as Flink's EventTimeSessionWindows.
 * Timers live in a heap and are checked lazily: a stale entry (session merged or grown) is skipped.
 */
export class SessionWindowOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly push: Push;
  private sessions = new Map<Key, Session[]>();
  private timers = new Heap<Timer>(before);
  private readonly gap: number;

  constructor(
    readonly id: string,
    private readonly node: WindowNode,
    private readonly rt: RuntimeContext,
    private readonly next: Push,
  ) {
    if (node.window.kind !== "session") throw new Error("SessionWindowOperator handles session windows");
    this.gap = node.window.gap;
    this.push = (value, ts, key) => this.add(value, ts, key);
  }

  private add(value: unknown, ts: number, key: Key): void {
    const { node, rt } = this;
    const agg = node.aggregator;
    const lateness = node.allowedLateness;
    const start = ts;
    const end = ts + this.gap;
    let list = this.sessions.get(key);
    let s: Session | undefined;
    try {
      if (list) {
        // Sessions of a key are disjoint and sorted by start; merge every one the new window touches.
        let i = 0;
        while (i < list.length && list[i]!.end < start) i++;
        let j = i;
        while (j < list.length && list[j]!.start <= end) j++;
        if (j > i) {
          s = list[i]!;
          for (let m = i + 1; m < j; m++) {
            const o = list[m]!;
            s.acc = agg.merge(s.acc, o.acc);
            o.live = false;
            if (o.end > s.end) s.end = o.end;
          }
          if (start < s.start) s.start = start;
          if (end > s.end) s.end = end;
          list.splice(i + 1, j - i - 1);
          s.acc = agg.add(s.acc, value);
        }
      }
      if (!s) {
        if (end - 1 + lateness <= this.wm) {
          rt.fate |= LATE;
          if (node.lateTo !== undefined) rt.write(node.lateTo, keyString(key), value, ts);
          return;
        }
        s = { start, end, acc: agg.add(agg.init(), value), firedEnd: Number.NaN, live: true };
        if (!list) {
          list = [];
          this.sessions.set(key, list);
        }
        let i = list.length;
        while (i > 0 && list[i - 1]!.start > start) i--;
        list.splice(i, 0, s);
      }
    } catch (e) {
      throw userFailure(node.label, e);
    }
    rt.fate |= AGGREGATED;
    if (s.end - 1 <= this.wm) {
      // Within the allowed lateness of a session that has already fired: fire again now.
      this.fire(key, s);
      this.schedule(s.end - 1 + lateness, key, s, true);
    } else this.schedule(s.end - 1, key, s, false);
  }

  private schedule(time: number, key: Key, session: Session, cleanup: boolean): void {
    this.timers.push({ time, key, session, cleanup });
    if (time < this.nextDue) this.nextDue = time;
  }

  private fire(key: Key, s: Session): void {
    s.firedEnd = s.end;
    let value: unknown;
    try {
      value = this.node.aggregator.result(s.acc);
    } catch (e) {
      this.rt.userError(userFailure(this.node.label, e), {
        key,
        timestamp: s.end - 1,
        what: `session [${s.start}, ${s.end})`,
      });
      return;
    }
    this.rt.counters.windowsFired++;
    this.next({ key, start: s.start, end: s.end, value }, s.end - 1, key);
  }

  private remove(key: Key, s: Session): void {
    s.live = false;
    const list = this.sessions.get(key);
    if (!list) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.sessions.delete(key);
  }

  advance(wm: number): void {
    this.wm = wm;
    const lateness = this.node.allowedLateness;
    for (let t = this.timers.peek(); t !== undefined && t.time <= wm; t = this.timers.peek()) {
      this.timers.pop();
      const s = t.session;
      if (!s.live) continue;
      if (t.cleanup) {
        if (s.end - 1 + lateness === t.time) this.remove(t.key, s);
        continue;
      }
      if (s.end - 1 !== t.time || s.firedEnd === s.end) continue; // stale: the session grew
      this.fire(t.key, s);
      if (lateness === 0) this.remove(t.key, s);
      else this.schedule(s.end - 1 + lateness, t.key, s, true);
    }
    this.nextDue = this.timers.peek()?.time ?? Number.POSITIVE_INFINITY;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    const out = new Map<number, unknown>();
    for (const [section, entries] of bySection(this.sessions, sectionOf))
      out.set(
        section,
        entries.map(([k, list]) => [k, list.map((s) => [s.start, s.end, s.acc, s.firedEnd])]),
      );
    return out;
  }

  restore(snap: unknown): void {
    const lateness = this.node.allowedLateness;
    for (const [k, list] of snap as [Key, [number, number, unknown, number][]][]) {
      const restored = list.map(([start, end, acc, firedEnd]) => ({ start, end, acc, firedEnd, live: true }));
      this.sessions.set(k, restored);
      for (const s of restored)
        if (s.firedEnd === s.end) this.schedule(s.end - 1 + lateness, k, s, true);
        else this.schedule(s.end - 1, k, s, false);
    }
  }

  drop(owned: (key: Key) => boolean): void {
    for (const [k, list] of this.sessions) if (owned(k)) for (const s of list) s.live = false;
    dropKeys(this.sessions, owned);
  }
}
