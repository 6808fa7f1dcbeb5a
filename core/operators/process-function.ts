import type { OutputTag, ProcessContext, ProcessNode, Timers } from "../pipeline/plan.js";
import { AGGREGATED, type Push, type RuntimeContext } from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
import type {
  ListState,
  MapState,
  StateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from "../state/descriptors.js";
import { STALE_SLACK, TimerHeap } from "../time/heap.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type TimedOperator } from "./operator.js";
import { userFailure } from "./window.js";

/**
 * Timers of one domain: a heap plus, per key, the live timestamps (deduplicates, deletes
 * lazily). A key's live timestamps are a number while it has one timer (the common case: no
 * `Set` per key), a `Set` from the second on. A deleted timer stays in the heap and is skipped
 * when it comes up, until stale entries outnumber live ones: then the heap is rebuilt from
 * `live`, so "delete the old inactivity timer, set a new one" on every record keeps the heap
 * proportional to the live timers, not to the records.
 */
class TimerQueue {
  readonly heap = new TimerHeap();
  readonly live = new Map<Key, number | Set<number>>();
  /** Live timers: the sum of `live`'s sizes. */
  count = 0;
  /** The timer `pop` found. */
  time = 0;
  key: Key = "";

  add(key: Key, time: number): boolean {
    const s = this.live.get(key);
    if (s === undefined) this.live.set(key, time);
    else if (typeof s === "number") {
      if (s === time) return false;
      this.live.set(key, new Set([s, time]));
    } else {
      if (s.has(time)) return false;
      s.add(time);
    }
    this.count++;
    this.heap.push(time, key);
    if (this.heap.size > 2 * this.count + STALE_SLACK) this.compact();
    return true;
  }

  delete(key: Key, time: number): void {
    const s = this.live.get(key);
    if (s === time) this.live.delete(key);
    else if (typeof s !== "object" || !s.delete(time)) return;
    else if (s.size === 0) this.live.delete(key);
    this.count--;
    if (this.heap.size > 2 * this.count + STALE_SLACK) this.compact();
  }

  /** Finds (in `time`, `key`) and removes the next live timer at or before `upTo`. */
  pop(upTo: number): boolean {
    const heap = this.heap;
    while (heap.size > 0 && heap.peekTime() <= upTo) {
      const time = heap.peekTime();
      const key = heap.peekKey();
      heap.pop();
      const s = this.live.get(key);
      if (s === time) this.live.delete(key);
      else if (typeof s !== "object" || !s.delete(time)) continue;
      else if (s.size === 0) this.live.delete(key);
      this.count--;
      this.time = time;
      this.key = key;
      return true;
    }
    return false;
  }

  /** Earliest timer (possibly a stale one); rebuilds the heap first when stale entries dominate. */
  next(): number {
    if (this.heap.size > 2 * this.count + STALE_SLACK) this.compact();
    return this.heap.peekTime();
  }

  /** Rebuilds the heap from the live timers: stale entries go. */
  private compact(): void {
    const times: number[] = [];
    const keys: Key[] = [];
    for (const [k, s] of this.live)
      if (typeof s === "number") {
        times.push(s);
        keys.push(k);
      } else
        for (const t of s) {
          times.push(t);
          keys.push(k);
        }
    this.count = times.length;
    this.heap.rebuild(times, keys);
  }

  entries(): [Key, number[]][] {
    return [...this.live].map(([k, s]) => [k, typeof s === "number" ? [s] : [...s]]);
  }

  load(entries: [Key, number[]][]): void {
    for (const [k, times] of entries) for (const t of times) this.add(k, t);
  }

  /** Forgets the timers of keys this process no longer owns. */
  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.live, owned);
    this.compact();
  }
}

/** A timer queue's size: its live timers and its heap entries (stale ones included). */
export interface TimerCounts {
  live: number;
  heap: number;
}

/**
 * A row with a slot per state name known so far. Exactly sized: an empty `[]` given its first
 * element grows to 17 slots, which would make a key with one value cost ~150 bytes.
 */
function newRow(slots: number): unknown[] {
  switch (slots) {
    case 0:
    case 1:
      return [undefined];
    case 2:
      return [undefined, undefined];
    case 3:
      return [undefined, undefined, undefined];
    case 4:
      return [undefined, undefined, undefined, undefined];
    default:
      return new Array<unknown>(slots).fill(undefined);
  }
}

/** A value state slot holding `undefined` as set by the user (an empty slot is `undefined`). */
const UNDEFINED = Symbol("undefined");

/**
 * Flink's KeyedProcessFunction: per-record calls with keyed state (value, map, list) and
 * event-time / processing-time timers. One context object is reused for every call.
 */
export class ProcessOperator implements TimedOperator {
  wm = Number.NEGATIVE_INFINITY;
  nextDue = Number.POSITIVE_INFINITY;
  nextProcessingDue = Number.POSITIVE_INFINITY;
  readonly push: Push;
  /**
   * Keyed state: per key one row with a slot per state name (`kind:name`), so a record's state
   * costs one Map lookup however many descriptors it touches. Rows without state are deleted.
   */
  private readonly rows = new Map<Key, unknown[]>();
  private readonly slots = new Map<string, number>();
  /** Accessors of the descriptors used so far, found by identity (a short array scan). */
  private readonly descriptors: StateDescriptor[] = [];
  private readonly accessors: unknown[] = [];
  private readonly eventTimers = new TimerQueue();
  private readonly processingTimers = new TimerQueue();
  private key: Key = "";
  /** The current key's row, once looked up (`looked`): undefined when it has no state. */
  private row: unknown[] | undefined;
  private looked = false;
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
      this.looked = false;
      this.ts = ts;
      this.domain = undefined;
      try {
        onRecord.call(fn, value, this.ctx);
      } catch (e) {
        throw userFailure(node.label, e);
      }
    };
  }

  private slot(id: string): number {
    let i = this.slots.get(id);
    if (i === undefined) this.slots.set(id, (i = this.slots.size));
    return i;
  }

  /** The current key's row; created when `create`. */
  private current(create: boolean): unknown[] | undefined {
    if (!this.looked) {
      this.row = this.rows.get(this.key);
      this.looked = true;
    }
    if (this.row === undefined && create) {
      const limits = this.rt.limits;
      if (limits.maxKeysPerOperator !== undefined) checkNewKey(limits, this.node.label, this.rows.size);
      this.rows.set(this.key, (this.row = newRow(this.slots.size)));
    }
    return this.row;
  }

  /** Empties a slot of the current key; the row goes once every slot is empty. */
  private clearSlot(i: number): void {
    const row = this.current(false);
    if (row === undefined || row[i] === undefined) return;
    row[i] = undefined;
    for (let j = 0; j < row.length; j++) if (row[j] !== undefined) return;
    this.rows.delete(this.key);
    this.row = undefined;
  }

  private accessor(d: StateDescriptor): unknown {
    const ds = this.descriptors;
    for (let i = 0; i < ds.length; i++) if (ds[i] === d) return this.accessors[i];
    // A descriptor seen for the first time: one accessor per state name, whatever object names it.
    const id = `${d.kind}:${d.name}`;
    const i = this.slot(id);
    const same = ds.findIndex((x) => `${x.kind}:${x.name}` === id);
    const a = same >= 0 ? this.accessors[same] : this.newAccessor(d, i);
    ds.push(d);
    this.accessors.push(a);
    return a;
  }

  private newAccessor(d: StateDescriptor, i: number): unknown {
    if (d.kind === "value") {
      const initial = (d as ValueStateDescriptor<unknown>).initial;
      return {
        get: () => {
          const v = this.current(false)?.[i];
          return v === undefined ? initial : v === UNDEFINED ? undefined : v;
        },
        set: (v: unknown) => {
          this.checkBytes(i, v);
          this.current(true)![i] = v === undefined ? UNDEFINED : v;
        },
        clear: () => this.clearSlot(i),
      } satisfies ValueState<unknown>;
    }
    if (d.kind === "map") {
      const inner = (create: boolean) => {
        const row = this.current(create);
        let x = row?.[i] as Map<unknown, unknown> | undefined;
        if (!x && create) row![i] = x = new Map();
        return x;
      };
      return {
        get: (k: unknown) => inner(false)?.get(k),
        set: (k: unknown, v: unknown) => {
          if (this.rt.limits.maxStateBytesPerKey !== undefined)
            this.checkBytes(i, new Map(inner(false)).set(k, v));
          inner(true)!.set(k, v);
        },
        has: (k: unknown) => inner(false)?.has(k) ?? false,
        delete: (k: unknown) => {
          const x = inner(false);
          x?.delete(k);
          if (x?.size === 0) this.clearSlot(i);
        },
        entries: () => (inner(false) ?? new Map()).entries(),
        get size() {
          return inner(false)?.size ?? 0;
        },
        clear: () => this.clearSlot(i),
      } satisfies MapState<unknown, unknown>;
    }
    return {
      get: () => (this.current(false)?.[i] as unknown[] | undefined) ?? [],
      add: (v: unknown) => {
        if (this.rt.limits.maxStateBytesPerKey !== undefined)
          this.checkBytes(i, [...((this.current(false)?.[i] as unknown[] | undefined) ?? []), v]);
        const row = this.current(true)!;
        const l = row[i] as unknown[] | undefined;
        if (l) l.push(v);
        else row[i] = [v];
      },
      update: (vs: readonly unknown[]) => {
        this.checkBytes(i, vs);
        if (vs.length) this.current(true)![i] = [...vs];
        else this.clearSlot(i);
      },
      clear: () => this.clearSlot(i),
    } satisfies ListState<unknown>;
  }

  /**
   * With `limits.maxStateBytesPerKey`: the key's state (every slot of its row) with slot `i` set
   * to `v` must stay within it, or the write throws (nothing changed).
   */
  private checkBytes(i: number, v: unknown): void {
    const limits = this.rt.limits;
    if (limits.maxStateBytesPerKey === undefined) return;
    const row = [...(this.current(false) ?? newRow(this.slots.size))];
    row[i] = v;
    checkStateBytes(limits, `${this.node.label} (state of key ${JSON.stringify(this.key)})`, row);
  }

  private onTimer(time: number, key: Key, domain: "event" | "processing"): void {
    const fn = this.node.fn;
    if (!fn.onTimer) return;
    this.key = key;
    this.looked = false;
    this.ts = time;
    this.domain = domain;
    try {
      fn.onTimer.call(fn, time, this.ctx);
    } catch (e) {
      this.rt.userError(userFailure(this.node.label, e), {
        key,
        timestamp: time,
        what: `${domain}-time timer`,
      });
    }
  }

  advance(wm: number): void {
    this.wm = wm;
    const q = this.eventTimers;
    while (q.pop(wm)) this.onTimer(q.time, q.key, "event");
    this.nextDue = q.next();
  }

  onProcessingTime(now: number): void {
    const q = this.processingTimers;
    while (q.pop(now)) this.onTimer(q.time, q.key, "processing");
    this.nextProcessingDue = q.next();
  }

  /** Keys with state, and live timers against heap entries per domain (stale ones included). */
  liveState(): { keys: number; eventTimers: TimerCounts; processingTimers: TimerCounts } {
    const counts = (q: TimerQueue): TimerCounts => ({ live: q.count, heap: q.heap.size });
    return {
      keys: this.rows.size,
      eventTimers: counts(this.eventTimers),
      processingTimers: counts(this.processingTimers),
    };
  }

  /** The state of one slot: `[key, value]` for every key that has it (`undefined` as set). */
  private slotEntries(i: number): [Key, unknown][] {
    const out: [Key, unknown][] = [];
    for (const [k, row] of this.rows) {
      const v = row[i];
      if (v !== undefined) out.push([k, v === UNDEFINED ? undefined : v]);
    }
    return out;
  }

  /** The key's state by name (`kind:name`) and its pending timers. */
  query(key: Key): unknown {
    const row = this.rows.get(key);
    const state: Record<string, unknown> = {};
    if (row)
      for (const [name, i] of this.slots) {
        const v = row[i];
        if (v !== undefined)
          Object.defineProperty(state, name, { value: v === UNDEFINED ? undefined : v, enumerable: true });
      }
    const times = (q: TimerQueue) => {
      const s = q.live.get(key);
      return s === undefined ? [] : typeof s === "number" ? [s] : [...s].sort((a, b) => a - b);
    };
    const eventTimers = times(this.eventTimers);
    const processingTimers = times(this.processingTimers);
    if (!row && eventTimers.length === 0 && processingTimers.length === 0) return undefined;
    return { state, eventTimers, processingTimers };
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
    for (const [name, i] of this.slots)
      for (const [s, entries] of bySection(this.slotEntries(i), sectionOf))
        section(s).state.push([name, entries]);
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
      const i = this.slot(name);
      for (const [k, v] of entries) {
        let row = this.rows.get(k);
        if (!row) this.rows.set(k, (row = newRow(this.slots.size)));
        row[i] = v === undefined ? UNDEFINED : v;
      }
    }
    this.looked = false;
    this.eventTimers.load(s.eventTimers);
    this.processingTimers.load(s.processingTimers);
    this.nextDue = this.eventTimers.next();
    this.nextProcessingDue = this.processingTimers.next();
  }

  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.rows, owned);
    this.looked = false;
    this.eventTimers.drop(owned);
    this.processingTimers.drop(owned);
  }
}
