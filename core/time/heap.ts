import { compareKeys } from "../runtime/context.js";
import type { Key } from "../types.js";

/**
 * Stale entries a lazily-deleting timer heap may hold beyond its live timers before it is
 * rebuilt from them: such a heap stays within `2 * live + STALE_SLACK` entries, and a rebuild
 * (O(live)) comes only after at least `live + STALE_SLACK` stale entries, so it costs O(1)
 * amortized per timer set or deleted.
 */
export const STALE_SLACK = 16;

/** A binary min-heap ordered by `less`; the timer queues of windows, sessions and process steps. */
export class Heap<T> {
  private items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  // Sifting moves a hole instead of swapping pairs: one store per level, the item once at the end.
  push(item: T): void {
    const a = this.items;
    const less = this.less;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (!less(item, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    const n = a.length;
    if (n === 0 || last === undefined) return top;
    const less = this.less;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = a[l]!;
      if (r < n) {
        const right = a[r]!;
        if (less(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!less(child, last)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }

  toArray(): T[] {
    return this.items.slice();
  }

  /**
   * Replaces the contents with `items` (taken, not copied), heapified in O(n): how a queue that
   * deletes lazily drops its stale entries once they outnumber the live ones.
   */
  rebuild(items: T[]): void {
    const a = items;
    const less = this.less;
    const n = a.length;
    for (let start = (n >> 1) - 1; start >= 0; start--) {
      const item = a[start]!;
      let i = start;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let child = a[l]!;
        if (r < n) {
          const right = a[r]!;
          if (less(right, child)) {
            c = r;
            child = right;
          }
        }
        if (!less(child, item)) break;
        a[i] = child;
        i = c;
      }
      a[i] = item;
    }
    this.items = a;
  }

  clear(): void {
    this.items = [];
  }
}

/**
 * A min-heap of timers `(time, key)` ordered by time, then key (`compareKeys`: the firing
 * order of process steps). Two parallel arrays instead of an object
 * per timer: no allocation per timer, and sifting compares numbers without a call.
 */
export class TimerHeap {
  private times: number[] = [];
  private keys: Key[] = [];

  get size(): number {
    return this.times.length;
  }

  /** Time of the earliest timer; +Infinity when empty. */
  peekTime(): number {
    return this.times.length > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
  }

  /** Key of the earliest timer (the heap must not be empty). */
  peekKey(): Key {
    return this.keys[0]!;
  }

  push(time: number, key: Key): void {
    const ts = this.times;
    const ks = this.keys;
    let i = ts.length;
    ts.push(time);
    ks.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(time, key, ts[p]!, ks[p]!)) break;
      ts[i] = ts[p]!;
      ks[i] = ks[p]!;
      i = p;
    }
    ts[i] = time;
    ks[i] = key;
  }

  /** Removes the earliest timer. */
  pop(): void {
    const ts = this.times;
    const ks = this.keys;
    const time = ts.pop()!;
    const key = ks.pop()!;
    const n = ts.length;
    if (n === 0) return;
    // The last timer sinks from the root: the smaller child moves up while it is earlier.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = -1;
      let mt = time;
      let mk = key;
      if (l < n && earlier(ts[l]!, ks[l]!, mt, mk)) {
        m = l;
        mt = ts[l]!;
        mk = ks[l]!;
      }
      if (r < n && earlier(ts[r]!, ks[r]!, mt, mk)) {
        m = r;
        mt = ts[r]!;
        mk = ks[r]!;
      }
      if (m < 0) break;
      ts[i] = mt;
      ks[i] = mk;
      i = m;
    }
    ts[i] = time;
    ks[i] = key;
  }

  /**
   * Replaces the contents with the timers `(times[i], keys[i])` (the arrays are taken, not
   * copied), heapified in O(n): how a queue that deletes lazily drops its stale entries.
   */
  rebuild(times: number[], keys: Key[]): void {
    const ts = times;
    const ks = keys;
    const n = ts.length;
    for (let start = (n >> 1) - 1; start >= 0; start--) {
      const time = ts[start]!;
      const key = ks[start]!;
      let i = start;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = -1;
        let mt = time;
        let mk = key;
        if (l < n && earlier(ts[l]!, ks[l]!, mt, mk)) {
          m = l;
          mt = ts[l]!;
          mk = ks[l]!;
        }
        if (r < n && earlier(ts[r]!, ks[r]!, mt, mk)) {
          m = r;
          mt = ts[r]!;
          mk = ks[r]!;
        }
        if (m < 0) break;
        ts[i] = mt;
        ks[i] = mk;
        i = m;
      }
      ts[i] = time;
      ks[i] = key;
    }
    this.times = ts;
    this.keys = ks;
  }

  clear(): void {
    this.times = [];
    this.keys = [];
  }
}

/** Timer order: by time, then by key (`compareKeys`, the firing order of windows too). */
function earlier(t1: number, k1: Key, t2: number, k2: Key): boolean {
  return t1 < t2 || (t1 === t2 && compareKeys(k1, k2) < 0);
}
