import type { OutputTag, ProcessContext, ProcessNode, Timers } from "../pipeline/plan.js";
import { AGGREGATED, compareKeys, type Push, type RuntimeContext } from "../runtime/context.js";
import type {
  ListState,
  MapState,
  StateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from "../state/descriptors.js";
import { Heap } from "../time/heap.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

interface TimerEntry {
  time: number;
  key: Key;
}
const earlier = (a: TimerEntry, b: TimerEntry) =>
  a.time < b.time || (a.time === b.time && compareKeys(a.key, b.key) < 0);

/** Timers of one domain: a heap plus, per key, the set of live timestamps (deduplicates, deletes lazily). */
class TimerQueue {
  readonly heap = new Heap<TimerEntry>(earlier);
  readonly live = new Map<Key, Set<number>>();

  add(key: Key, time: number): boolean {
    let s = this.live.get(key);
    if (!s) {
      s = new Set();
      this.live.set(key, s);
    }
    if (s.has(time)) return false;
    s.add(time);
    this.heap.push({ time, key });
    return true;
  }

  delete(key: Key, time: number): void {
    this.live.get(key)?.delete(time);
  }

  /** Pops the next live timer at or before `upTo`. */
  pop(upTo: number): TimerEntry | undefined {
    for (let t = this.heap.peek(); t !== undefined && t.time <= upTo; t = this.heap.peek()) {
      this.heap.pop();
      const s = this.live.get(t.key);
      if (!s?.delete(t.time)) continue;
      if (s.size === 0) this.live.delete(t.key);
      return t;
    }
    return undefined;
  }

  next(): number {
    return this.heap.peek()?.time ?? Number.POSITIVE_INFINITY;
  }

  entries(): [Key, number[]][] {
    return [...this.live].map(([k, s]) => [k, [...s]]);
  }

  load(entries: [Key, number[]][]): void {
    for (const [k, times] of entries) for (const t of times) this.add(k, t);
  }

  /** Heap entries of dropped keys are skipped when they come up. */
  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.live, owned);
  }
}

/**
 * Flink's KeyedProcessFunction: per-record calls with keyed state (value, map, list) and
 * event-time / processing-time timers. One context object is reused for every call.
 */
export class ProcessOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  nextProcessingDue = Number.POSITIVE_INFINITY;
  readonly push: Push;
  private readonly values = new Map<string, Map<Key, unknown>>();
  private readonly accessors = new Map<string, unknown>();
  private readonly byDescriptor = new Map<StateDescriptor, unknown>();
  private readonly eventTimers = new TimerQueue();
  private readonly processingTimers = new TimerQueue();
  private key: Key = "";
  private ts = 0;
  private domain: "event" | "processing" | undefined;
  private readonly ctx: ProcessContext<Key, unknown>;

  constructor(
    readonly id: string,
    private readonly node: ProcessNode,
    private readonly rt: RuntimeContext,
    private readonly next: Push,
    private readonly sides: ReadonlyMap<string, Push>,
  ) {
    const op = this;
    const timers: Timers = {
      eventTime(t) {
        if (op.eventTimers.add(op.key, t) && t < op.nextDue) op.nextDue = t;
      },
      processingTime(t) {
        if (op.processingTimers.add(op.key, t) && t < op.nextProcessingDue) op.nextProcessingDue = t;
      },
      deleteEventTime: (t) => op.eventTimers.delete(op.key, t),
      deleteProcessingTime: (t) => op.processingTimers.delete(op.key, t),
    };
    this.ctx = {
      get key() {
        return op.key;
      },
      get timestamp() {
        return op.ts;
      },
      get timeDomain() {
        return op.domain;
      },
      timers,
      watermark: () => op.wm,
      now: () => op.rt.clock.now(),
      state: ((d: StateDescriptor) => op.accessor(d)) as ProcessContext<Key, unknown>["state"],
      emit: (value, timestamp) => op.next(value, timestamp ?? op.ts, op.key),
      output: <X>(tag: OutputTag<X>, value: X, timestamp?: number) => {
        op.sides.get(tag.name)?.(value, timestamp ?? op.ts, op.key);
      },
    };
    const onRecord = node.fn.onRecord;
    const fn = node.fn;
    this.push = (value, ts, key) => {
      rt.fate |= AGGREGATED;
      this.key = key;
      this.ts = ts;
      this.domain = undefined;
      try {
        onRecord.call(fn, value, this.ctx);
      } catch (e) {
        throw userFailure(node.label, e);
      }
    };
  }

  private store(name: string): Map<Key, unknown> {
    let m = this.values.get(name);
    if (!m) {
      m = new Map();
      this.values.set(name, m);
    }
    return m;
  }

  private accessor(d: StateDescriptor): unknown {
    // Descriptors are usually module constants: find them by identity, without building a name.
    const known = this.byDescriptor.get(d);
    if (known) return known;
    const id = `${d.kind}:${d.name}`;
    let a = this.accessors.get(id);
    if (a) {
      this.byDescriptor.set(d, a);
      return a;
    }
    const m = this.store(id);
    if (d.kind === "value") {
      const initial = (d as ValueStateDescriptor<unknown>).initial;
      a = {
        get: () => (m.has(this.key) ? m.get(this.key) : initial),
        set: (v: unknown) => void m.set(this.key, v),
        clear: () => void m.delete(this.key),
      } satisfies ValueState<unknown>;
    } else if (d.kind === "map") {
      const inner = (create: boolean) => {
        let x = m.get(this.key) as Map<unknown, unknown> | undefined;
        if (!x && create) {
          x = new Map();
          m.set(this.key, x);
        }
        return x;
      };
      a = {
        get: (k: unknown) => inner(false)?.get(k),
        set: (k: unknown, v: unknown) => void inner(true)!.set(k, v),
        has: (k: unknown) => inner(false)?.has(k) ?? false,
        delete: (k: unknown) => {
          const x = inner(false);
          x?.delete(k);
          if (x?.size === 0) m.delete(this.key);
        },
        entries: () => (inner(false) ?? new Map()).entries(),
        get size() {
          return inner(false)?.size ?? 0;
        },
        clear: () => void m.delete(this.key),
      } satisfies MapState<unknown, unknown>;
    } else {
      a = {
        get: () => (m.get(this.key) as unknown[] | undefined) ?? [],
        add: (v: unknown) => {
          const l = m.get(this.key) as unknown[] | undefined;
          if (l) l.push(v);
          else m.set(this.key, [v]);
        },
        update: (vs: readonly unknown[]) => void (vs.length ? m.set(this.key, [...vs]) : m.delete(this.key)),
        clear: () => void m.delete(this.key),
      } satisfies ListState<unknown>;
    }
    this.accessors.set(id, a);
    this.byDescriptor.set(d, a);
    return a;
  }

  private onTimer(t: TimerEntry, domain: "event" | "processing"): void {
    const fn = this.node.fn;
    if (!fn.onTimer) return;
    this.key = t.key;
    this.ts = t.time;
    this.domain = domain;
    try {
      fn.onTimer.call(fn, t.time, this.ctx);
    } catch (e) {
      this.rt.userError(userFailure(this.node.label, e), {
        key: t.key,
        timestamp: t.time,
        what: `${domain}-time timer`,
      });
    }
  }

  advance(wm: number): void {
    this.wm = wm;
    for (let t = this.eventTimers.pop(wm); t; t = this.eventTimers.pop(wm)) this.onTimer(t, "event");
    this.nextDue = this.eventTimers.next();
  }

  onProcessingTime(now: number): void {
    for (let t = this.processingTimers.pop(now); t; t = this.processingTimers.pop(now))
      this.onTimer(t, "processing");
    this.nextProcessingDue = this.processingTimers.next();
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    type Snap = {
      state: [string, [Key, unknown][]][];
      eventTimers: [Key, number[]][];
      processingTimers: [Key, number[]][];
    };
    const out = new Map<number, Snap>();
    const section = (s: number) => {
      let snap = out.get(s);
      if (!snap) out.set(s, (snap = { state: [], eventTimers: [], processingTimers: [] }));
      return snap;
    };
    for (const [name, m] of this.values)
      for (const [s, entries] of bySection(m, sectionOf)) section(s).state.push([name, entries]);
    for (const [s, entries] of bySection(this.eventTimers.entries(), sectionOf))
      section(s).eventTimers = entries;
    for (const [s, entries] of bySection(this.processingTimers.entries(), sectionOf))
      section(s).processingTimers = entries;
    return out;
  }

  restore(snap: unknown): void {
    const s = snap as {
      state: [string, [Key, unknown][]][];
      eventTimers: [Key, number[]][];
      processingTimers: [Key, number[]][];
    };
    for (const [name, entries] of s.state) {
      const m = this.store(name);
      for (const [k, v] of entries) m.set(k, v);
    }
    this.eventTimers.load(s.eventTimers);
    this.processingTimers.load(s.processingTimers);
    this.nextDue = this.eventTimers.next();
    this.nextProcessingDue = this.processingTimers.next();
  }

  drop(owned: (key: Key) => boolean): void {
    for (const m of this.values.values()) dropKeys(m, owned);
    this.eventTimers.drop(owned);
    this.processingTimers.drop(owned);
  }
}
