/**
 * The ceiling: each Nexmark query as the plainest fast JavaScript loop over the pre-generated
 * events, writing its outputs to an array. Streaming like the engine (event time, the same 4 s
 * bounded out-of-orderness, windows and auctions closed as the watermark passes them), so the
 * outputs are the pipelines' (the test checks them against `reference.ts` too), but with no
 * broker, no operator boundaries, no accounting, no checkpointable state: just Maps and arrays.
 *
 * Also q0-q2 in RxJS, when the `rxjs` package is installed (it is loaded dynamically, so the
 * benchmark runs without it and reports `rxjs_eps: null`).
 */
import type { Auction, Bid, NexmarkEvent, Person } from "../../core/testing.js";
import {
  type ClosedAuction,
  EURO_RATE,
  OUT_OF_ORDERNESS,
  type Q1Result,
  type Q2Result,
  Q3_CATEGORY,
  type Q3Result,
  type Q4Result,
  Q5_SIZE,
  Q5_SLIDE,
  type Q5Result,
  Q6_LAST,
  type Q6Result,
  Q7_SIZE,
  type Q7Result,
  Q8_SIZE,
  type Q8Result,
  type QueryName,
} from "./queries.js";

type Events = readonly NexmarkEvent[];
const NEG = Number.NEGATIVE_INFINITY;
const POS = Number.POSITIVE_INFINITY;

/** Start of the latest window of period `slide` holding `t` (epoch-aligned, as the engine's). */
function windowStart(t: number, slide: number): number {
  const r = t % slide;
  return t - (r < 0 ? r + slide : r);
}

export function handQ0(events: Events): Bid[] {
  const out: Bid[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === "bid") out.push(e.bid);
  }
  return out;
}

export function handQ1(events: Events): Q1Result[] {
  const out: Q1Result[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind !== "bid") continue;
    const b = e.bid;
    out.push({
      auction: b.auction,
      bidder: b.bidder,
      price: EURO_RATE * b.price,
      dateTime: b.dateTime,
      extra: b.extra,
    });
  }
  return out;
}

export function handQ2(events: Events): Q2Result[] {
  const out: Q2Result[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === "bid" && e.bid.auction % 123 === 0)
      out.push({ auction: e.bid.auction, price: e.bid.price });
  }
  return out;
}

export function handQ3(events: Events): Q3Result[] {
  const out: Q3Result[] = [];
  const sellers = new Map<number, Person | false>();
  const waiting = new Map<number, number[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === "person") {
      const p = e.person;
      const local = p.state === "OR" || p.state === "ID" || p.state === "CA";
      sellers.set(p.id, local ? p : false);
      const w = waiting.get(p.id);
      if (w !== undefined) {
        if (local)
          for (let j = 0; j < w.length; j++)
            out.push({ name: p.name, city: p.city, state: p.state, id: w[j]! });
        waiting.delete(p.id);
      }
    } else if (e.kind === "auction") {
      const a = e.auction;
      if (a.category !== Q3_CATEGORY) continue;
      const p = sellers.get(a.seller);
      if (p === undefined) {
        const w = waiting.get(a.seller);
        if (w === undefined) waiting.set(a.seller, [a.id]);
        else w.push(a.id);
      } else if (p !== false) out.push({ name: p.name, city: p.city, state: p.state, id: a.id });
    }
  }
  return out;
}

/** A binary min-heap on a numeric priority with a tie-break, as small as it gets. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(x: T): void {
    const a = this.items;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    const n = a.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(a[r]!, a[l]!) ? r : l;
      if (!this.less(a[c]!, last)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

interface OpenAuction {
  a: Auction;
  max: number;
}
interface Waiting {
  time: number;
  auction: number;
}

/**
 * The auction-bid join of q4 and q6, streaming: calls `onClosed` for each auction with a bid in
 * [dateTime, expires] once the watermark passes `expires`, in (expires, id) order.
 */
function closeAuctions(events: Events, onClosed: (c: ClosedAuction) => void): void {
  const open = new Map<number, OpenAuction>();
  const closing = new MinHeap<OpenAuction>(
    (x, y) => x.a.expires < y.a.expires || (x.a.expires === y.a.expires && x.a.id < y.a.id),
  );
  const early = new Map<number, Bid[]>(); // bids that came before their auction
  const cleanups = new MinHeap<Waiting>((x, y) => x.time < y.time);
  let maxTs = NEG;
  let wm = NEG;
  const advance = (w: number) => {
    wm = w;
    for (let o = closing.peek(); o !== undefined && o.a.expires <= wm; o = closing.peek()) {
      closing.pop();
      const a = o.a;
      open.delete(a.id);
      if (o.max >= 0)
        onClosed({ id: a.id, seller: a.seller, category: a.category, expires: a.expires, final: o.max });
    }
    for (let c = cleanups.peek(); c !== undefined && c.time <= wm; c = cleanups.peek()) {
      cleanups.pop();
      const list = early.get(c.auction);
      if (list === undefined) continue;
      const left = list.filter((b) => b.dateTime > c.time);
      if (left.length === 0) early.delete(c.auction);
      else early.set(c.auction, left);
    }
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === "auction") {
      const a = e.auction;
      const o: OpenAuction = { a, max: -1 };
      const list = early.get(a.id);
      if (list !== undefined) {
        for (let j = 0; j < list.length; j++) {
          const b = list[j]!;
          if (b.dateTime >= a.dateTime && b.dateTime <= a.expires && b.price > o.max) o.max = b.price;
        }
        early.delete(a.id);
      }
      open.set(a.id, o);
      closing.push(o);
    } else if (e.kind === "bid") {
      const b = e.bid;
      const o = open.get(b.auction);
      if (o !== undefined) {
        if (b.dateTime >= o.a.dateTime && b.dateTime <= o.a.expires && b.price > o.max) o.max = b.price;
      } else {
        const list = early.get(b.auction);
        if (list === undefined) early.set(b.auction, [b]);
        else list.push(b);
        cleanups.push({ time: b.dateTime, auction: b.auction });
      }
    }
    const ts = e.timestamp;
    if (ts > maxTs) {
      maxTs = ts;
      if (ts - OUT_OF_ORDERNESS - 1 > wm) advance(ts - OUT_OF_ORDERNESS - 1);
    }
  }
  advance(POS);
}

export function handQ4(events: Events): Q4Result[] {
  const out: Q4Result[] = [];
  const sums = new Map<number, { sum: number; count: number }>();
  closeAuctions(events, (c) => {
    let s = sums.get(c.category);
    if (s === undefined) sums.set(c.category, (s = { sum: 0, count: 0 }));
    s.sum += c.final;
    s.count++;
    out.push({ category: c.category, avg: s.sum / s.count });
  });
  return out;
}

export function handQ6(events: Events): Q6Result[] {
  const out: Q6Result[] = [];
  const finals = new Map<number, number[]>();
  closeAuctions(events, (c) => {
    let list = finals.get(c.seller);
    if (list === undefined) finals.set(c.seller, (list = []));
    list.push(c.final);
    if (list.length > Q6_LAST) list.shift();
    let sum = 0;
    for (let j = 0; j < list.length; j++) sum += list[j]!;
    out.push({ seller: c.seller, avg: sum / list.length });
  });
  return out;
}

export function handQ5(events: Events): Q5Result[] {
  const out: Q5Result[] = [];
  const windows = new Map<number, Map<number, number>>(); // start -> auction -> bids
  let first = POS; // earliest window start not fired yet
  let maxTs = NEG;
  let wm = NEG;
  const fire = (w: number) => {
    wm = w;
    while (windows.size > 0 && first + Q5_SIZE - 1 <= wm) {
      const counts = windows.get(first);
      if (counts !== undefined) {
        windows.delete(first);
        let max = 0;
        for (const c of counts.values()) if (c > max) max = c;
        for (const [auction, num] of counts)
          if (num === max) out.push({ auction, num, start: first, end: first + Q5_SIZE });
      }
      first += Q5_SLIDE;
    }
    if (windows.size === 0) first = POS;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const ts = e.timestamp;
    if (e.kind === "bid") {
      const auction = e.bid.auction;
      for (let start = windowStart(ts, Q5_SLIDE); start > ts - Q5_SIZE; start -= Q5_SLIDE) {
        if (start + Q5_SIZE - 1 <= wm) break; // late
        let counts = windows.get(start);
        if (counts === undefined) {
          windows.set(start, (counts = new Map()));
          if (start < first) first = start;
        }
        counts.set(auction, (counts.get(auction) ?? 0) + 1);
      }
    }
    if (ts > maxTs) {
      maxTs = ts;
      if (ts - OUT_OF_ORDERNESS - 1 > wm) fire(ts - OUT_OF_ORDERNESS - 1);
    }
  }
  fire(POS);
  return out;
}

export function handQ7(events: Events): Q7Result[] {
  const out: Q7Result[] = [];
  const windows = new Map<number, { price: number; bids: Bid[] }>();
  let first = POS;
  let maxTs = NEG;
  let wm = NEG;
  const fire = (w: number) => {
    wm = w;
    while (windows.size > 0 && first + Q7_SIZE - 1 <= wm) {
      const top = windows.get(first);
      if (top !== undefined) {
        windows.delete(first);
        for (const b of top.bids)
          out.push({
            auction: b.auction,
            price: b.price,
            bidder: b.bidder,
            dateTime: b.dateTime,
            extra: b.extra,
          });
      }
      first += Q7_SIZE;
    }
    if (windows.size === 0) first = POS;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const ts = e.timestamp;
    if (e.kind === "bid") {
      const start = windowStart(ts, Q7_SIZE);
      if (start + Q7_SIZE - 1 > wm) {
        const b = e.bid;
        const top = windows.get(start);
        if (top === undefined) {
          windows.set(start, { price: b.price, bids: [b] });
          if (start < first) first = start;
        } else if (b.price > top.price) {
          top.price = b.price;
          top.bids = [b];
        } else if (b.price === top.price) top.bids.push(b);
      }
    }
    if (ts > maxTs) {
      maxTs = ts;
      if (ts - OUT_OF_ORDERNESS - 1 > wm) fire(ts - OUT_OF_ORDERNESS - 1);
    }
  }
  fire(POS);
  return out;
}

export function handQ8(events: Events): Q8Result[] {
  const out: Q8Result[] = [];
  const windows = new Map<number, { persons: Person[]; sellers: Set<number> }>();
  let first = POS;
  let maxTs = NEG;
  let wm = NEG;
  const fire = (w: number) => {
    wm = w;
    while (windows.size > 0 && first + Q8_SIZE - 1 <= wm) {
      const win = windows.get(first);
      if (win !== undefined) {
        windows.delete(first);
        for (const p of win.persons)
          if (win.sellers.has(p.id)) out.push({ id: p.id, name: p.name, starttime: first });
      }
      first += Q8_SIZE;
    }
    if (windows.size === 0) first = POS;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const ts = e.timestamp;
    if (e.kind !== "bid") {
      const start = windowStart(ts, Q8_SIZE);
      if (start + Q8_SIZE - 1 > wm) {
        let win = windows.get(start);
        if (win === undefined) {
          windows.set(start, (win = { persons: [], sellers: new Set() }));
          if (start < first) first = start;
        }
        if (e.kind === "person") win.persons.push(e.person);
        else win.sellers.add(e.auction.seller);
      }
    }
    if (ts > maxTs) {
      maxTs = ts;
      if (ts - OUT_OF_ORDERNESS - 1 > wm) fire(ts - OUT_OF_ORDERNESS - 1);
    }
  }
  fire(POS);
  return out;
}

export const HANDWRITTEN: Readonly<Record<QueryName, (events: Events) => unknown[]>> = {
  q0: handQ0,
  q1: handQ1,
  q2: handQ2,
  q3: handQ3,
  q4: handQ4,
  q5: handQ5,
  q6: handQ6,
  q7: handQ7,
  q8: handQ8,
};

/** The RxJS baselines that exist (q0-q2), or undefined when `rxjs` is not installed. */
export type RxQueries = Partial<Record<QueryName, (events: Events) => unknown[]>>;

const RXJS: string = "rxjs";

/** Loads `rxjs` if it is installed (not a dependency of the package: a baseline only). */
export async function loadRxQueries(): Promise<RxQueries | undefined> {
  let rx: any;
  try {
    rx = await import(RXJS);
  } catch {
    return undefined;
  }
  const { from, filter, map } = rx;
  const collect = (events: Events, ...ops: unknown[]): unknown[] => {
    const out: unknown[] = [];
    from(events)
      .pipe(...ops)
      .subscribe((v: unknown) => out.push(v));
    return out;
  };
  return {
    q0: (events) =>
      collect(
        events,
        filter((e: NexmarkEvent) => e.kind === "bid"),
        map((e: NexmarkEvent & { kind: "bid" }) => e.bid),
      ),
    q1: (events) =>
      collect(
        events,
        filter((e: NexmarkEvent) => e.kind === "bid"),
        map((e: NexmarkEvent & { kind: "bid" }): Q1Result => {
          const b = e.bid;
          return {
            auction: b.auction,
            bidder: b.bidder,
            price: EURO_RATE * b.price,
            dateTime: b.dateTime,
            extra: b.extra,
          };
        }),
      ),
    q2: (events) =>
      collect(
        events,
        filter((e: NexmarkEvent) => e.kind === "bid" && e.bid.auction % 123 === 0),
        map(
          (e: NexmarkEvent & { kind: "bid" }): Q2Result => ({ auction: e.bid.auction, price: e.bid.price }),
        ),
      ),
  };
}
