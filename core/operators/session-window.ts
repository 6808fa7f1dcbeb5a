import type { WindowNode } from "../pipeline/plan.js";
import {
  AGGREGATED,
  compareKeys,
  keyString,
  LATE,
  type Push,
  type RuntimeContext,
} from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
import { Heap, STALE_SLACK } from "../time/heap.js";
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
  /**
   * The session's timer: in the heap, never later than its due time (see `due`). Other heap
   * entries that name the session are stale.
   */
  timer: Timer | undefined;
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
 *
 * Each live session has one timer in a heap, at or before its due time: `end - 1` until it has
 * fired at its current end, then `end - 1 + allowedLateness` (cleanup). A session that grows
 * keeps its timer, which, when it comes up, moves on to the session's due time then (so a
 * session growing with every record costs no heap operation per record); a new timer is pushed
 * only when the due time moves earlier (a fired session grown by a late record). Entries of
 * merged or dropped sessions are skipped when they come up, and the heap is rebuilt from the
 * live sessions' timers once stale entries outnumber them (STALE_SLACK).
 */
export class SessionWindowOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  readonly push: Push;
  private sessions = new Map<Key, Session[]>();
  private timers = new Heap<Timer>(before);
  /** Sessions in `sessions`: each has one timer in the heap. */
  private live = 0;
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
    const limits = rt.limits;
    if (list === undefined && limits.maxKeysPerOperator !== undefined)
      checkNewKey(limits, node.label, this.sessions.size);
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
            this.live--;
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
        s = {
          start,
          end,
          acc: agg.add(agg.init(), value),
          firedEnd: Number.NaN,
          live: true,
          timer: undefined,
        };
        this.live++;
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
    if (limits.maxStateBytesPerKey !== undefined) checkStateBytes(limits, node.label, s.acc);
    rt.fate |= AGGREGATED;
    // Within the allowed lateness of a session that has already fired: fire again now.
    if (s.end - 1 <= this.wm) this.fire(key, s);
    this.due(key, s);
  }

  /**
   * Makes sure the session's timer comes no later than its due time: fire at `end - 1` until
   * it has fired at its current end, then clean up at `end - 1 + allowedLateness`. A timer
   * that comes earlier stays (it moves on when it comes up), so a growing session costs no
   * heap operation; one that would come later is replaced (the old entry goes stale).
   */
  private due(key: Key, s: Session): void {
    const cleanup = s.firedEnd === s.end;
    const time = cleanup ? s.end - 1 + this.node.allowedLateness : s.end - 1;
    const t = s.timer;
    if (t !== undefined && (t.time < time || (t.time === time && (!t.cleanup || cleanup)))) return;
    const timer: Timer = { time, key, session: s, cleanup };
    s.timer = timer;
    this.timers.push(timer);
    if (time < this.nextDue) this.nextDue = time;
    if (this.timers.size > 2 * this.live + STALE_SLACK) this.compact();
  }

  /** Rebuilds the heap from the live sessions' timers: stale entries go. */
  private compact(): void {
    const timers: Timer[] = [];
    for (const list of this.sessions.values()) for (const s of list) if (s.timer) timers.push(s.timer);
    this.timers.rebuild(timers);
  }

  /** Live sessions and heap entries (stale ones included), for tests and memory measurements. */
  liveState(): { keys: number; sessions: number; timers: number } {
    return { keys: this.sessions.size, sessions: this.live, timers: this.timers.size };
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
    this.live--;
    const list = this.sessions.get(key);
    if (!list) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.sessions.delete(key);
  }

  advance(wm: number): void {
    this.wm = wm;
    const lateness = this.node.allowedLateness;
    const timers = this.timers;
    for (let t = timers.peek(); t !== undefined && t.time <= wm; t = timers.peek()) {
      timers.pop();
      const s = t.session;
      if (!s.live || s.timer !== t) continue; // stale: the session merged away or has a newer timer
      const cleanup = s.firedEnd === s.end;
      const time = cleanup ? s.end - 1 + lateness : s.end - 1;
      if (time !== t.time || cleanup !== t.cleanup) {
        // The session grew since this timer was set: it moves on to the due time (later).
        t.time = time;
        t.cleanup = cleanup;
        timers.push(t);
        continue;
      }
      if (cleanup) {
        this.remove(t.key, s);
        continue;
      }
      this.fire(t.key, s);
      if (lateness === 0) this.remove(t.key, s);
      else {
        t.time = s.end - 1 + lateness;
        t.cleanup = true;
        timers.push(t);
      }
    }
    if (timers.size > 2 * this.live + STALE_SLACK) this.compact();
    this.nextDue = timers.peek()?.time ?? Number.POSITIVE_INFINITY;
  }

  /** The key's sessions: `{ start, end, fired, value }` (the aggregate's result so far). */
  query(key: Key): unknown {
    const list = this.sessions.get(key);
    if (!list || list.length === 0) return undefined;
    return list.map((s) => ({
      start: s.start,
      end: s.end,
      fired: s.firedEnd === s.end,
      value: this.node.aggregator.result(s.acc),
    }));
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
    for (const [k, list] of snap as [Key, [number, number, unknown, number][]][]) {
      const restored: Session[] = list.map(([start, end, acc, firedEnd]) => ({
        start,
        end,
        acc,
        firedEnd,
        live: true,
        timer: undefined,
      }));
      this.sessions.set(k, restored);
      this.live += restored.length;
      for (const s of restored) this.due(k, s);
    }
  }

  drop(owned: (key: Key) => boolean): void {
    for (const [k, list] of this.sessions)
      if (owned(k))
        for (const s of list) {
          s.live = false;
          this.live--;
        }
    dropKeys(this.sessions, owned);
    this.compact();
  }
}
