/**
 * Naive reference implementations of Nexmark q0-q8 over a whole array of events: no engine, no
 * streaming, no watermarks, written to be obviously right (straight from the SQL), not fast. The
 * test checks the pipelines of `queries.ts` and the loops of `handwritten.ts` against these.
 *
 * q4 and q6 are changelogs in the engine; here they are what those changelogs add up to: q4 the
 * final average per category (and how many auctions it is over), q6 the sequence of averages per
 * seller in closing order.
 */
import type { Auction, Bid, NexmarkEvent, Person } from "../../core/testing.js";
import {
  type ClosedAuction,
  EURO_RATE,
  type Q1Result,
  type Q2Result,
  Q3_CATEGORY,
  Q3_STATES,
  type Q3Result,
  Q5_SIZE,
  Q5_SLIDE,
  type Q5Result,
  Q6_LAST,
  Q7_SIZE,
  type Q7Result,
  Q8_SIZE,
  type Q8Result,
} from "./queries.js";

function split(events: readonly NexmarkEvent[]): { persons: Person[]; auctions: Auction[]; bids: Bid[] } {
  const persons: Person[] = [];
  const auctions: Auction[] = [];
  const bids: Bid[] = [];
  for (const e of events) {
    if (e.kind === "person") persons.push(e.person);
    else if (e.kind === "auction") auctions.push(e.auction);
    else bids.push(e.bid);
  }
  return { persons, auctions, bids };
}

/** Start of the window of `size` (aligned to the epoch) holding `t`. */
const windowOf = (t: number, size: number) => t - (((t % size) + size) % size);

export function refQ0(events: readonly NexmarkEvent[]): Bid[] {
  return split(events).bids;
}

export function refQ1(events: readonly NexmarkEvent[]): Q1Result[] {
  return split(events).bids.map((b) => ({
    auction: b.auction,
    bidder: b.bidder,
    price: EURO_RATE * b.price,
    dateTime: b.dateTime,
    extra: b.extra,
  }));
}

export function refQ2(events: readonly NexmarkEvent[]): Q2Result[] {
  return split(events)
    .bids.filter((b) => b.auction % 123 === 0)
    .map((b) => ({ auction: b.auction, price: b.price }));
}

export function refQ3(events: readonly NexmarkEvent[]): Q3Result[] {
  const { persons, auctions } = split(events);
  const out: Q3Result[] = [];
  for (const a of auctions) {
    if (a.category !== Q3_CATEGORY) continue;
    for (const p of persons)
      if (p.id === a.seller && Q3_STATES.includes(p.state))
        out.push({ name: p.name, city: p.city, state: p.state, id: a.id });
  }
  return out;
}

/** Every auction with at least one bid in [dateTime, expires], with its highest price, in closing order. */
export function refClosedAuctions(events: readonly NexmarkEvent[]): ClosedAuction[] {
  const { auctions, bids } = split(events);
  const bidsOf = new Map<number, Bid[]>();
  for (const b of bids) {
    const list = bidsOf.get(b.auction) ?? [];
    list.push(b);
    bidsOf.set(b.auction, list);
  }
  const out: ClosedAuction[] = [];
  for (const a of auctions) {
    const prices = (bidsOf.get(a.id) ?? [])
      .filter((b) => b.dateTime >= a.dateTime && b.dateTime <= a.expires)
      .map((b) => b.price);
    if (prices.length === 0) continue;
    out.push({
      id: a.id,
      seller: a.seller,
      category: a.category,
      expires: a.expires,
      final: Math.max(...prices),
    });
  }
  return out.sort((x, y) => x.expires - y.expires || x.id - y.id);
}

/** q4: per category, the average closing price over all its closed auctions, and their number. */
export function refQ4(events: readonly NexmarkEvent[]): Map<number, { avg: number; auctions: number }> {
  const byCategory = new Map<number, number[]>();
  for (const c of refClosedAuctions(events)) {
    const list = byCategory.get(c.category) ?? [];
    list.push(c.final);
    byCategory.set(c.category, list);
  }
  const out = new Map<number, { avg: number; auctions: number }>();
  for (const [category, finals] of byCategory)
    out.set(category, { avg: finals.reduce((s, f) => s + f, 0) / finals.length, auctions: finals.length });
  return out;
}

export function refQ5(events: readonly NexmarkEvent[]): Q5Result[] {
  const counts = new Map<number, Map<number, number>>(); // window start -> auction -> bids
  for (const b of split(events).bids) {
    for (let start = windowOf(b.dateTime, Q5_SLIDE); start > b.dateTime - Q5_SIZE; start -= Q5_SLIDE) {
      const perAuction = counts.get(start) ?? new Map<number, number>();
      perAuction.set(b.auction, (perAuction.get(b.auction) ?? 0) + 1);
      counts.set(start, perAuction);
    }
  }
  const out: Q5Result[] = [];
  for (const [start, perAuction] of counts) {
    const max = Math.max(...perAuction.values());
    for (const [auction, num] of perAuction)
      if (num === max) out.push({ auction, num, start, end: start + Q5_SIZE });
  }
  return out;
}

/** q6: per seller, the average of its last 10 closing prices after each of its auctions closes. */
export function refQ6(events: readonly NexmarkEvent[]): Map<number, number[]> {
  const finals = new Map<number, number[]>();
  const out = new Map<number, number[]>();
  for (const c of refClosedAuctions(events)) {
    const list = finals.get(c.seller) ?? [];
    list.push(c.final);
    finals.set(c.seller, list);
    const last = list.slice(-Q6_LAST);
    const avgs = out.get(c.seller) ?? [];
    avgs.push(last.reduce((s, f) => s + f, 0) / last.length);
    out.set(c.seller, avgs);
  }
  return out;
}

export function refQ7(events: readonly NexmarkEvent[]): Q7Result[] {
  const byWindow = new Map<number, Bid[]>();
  for (const b of split(events).bids) {
    const w = windowOf(b.dateTime, Q7_SIZE);
    const list = byWindow.get(w) ?? [];
    list.push(b);
    byWindow.set(w, list);
  }
  const out: Q7Result[] = [];
  for (const bids of byWindow.values()) {
    const max = Math.max(...bids.map((b) => b.price));
    for (const b of bids)
      if (b.price === max)
        out.push({
          auction: b.auction,
          price: b.price,
          bidder: b.bidder,
          dateTime: b.dateTime,
          extra: b.extra,
        });
  }
  return out;
}

export function refQ8(events: readonly NexmarkEvent[]): Q8Result[] {
  const { persons, auctions } = split(events);
  const out: Q8Result[] = [];
  for (const p of persons) {
    const start = windowOf(p.dateTime, Q8_SIZE);
    if (auctions.some((a) => a.seller === p.id && windowOf(a.dateTime, Q8_SIZE) === start))
      out.push({ id: p.id, name: p.name, starttime: start });
  }
  return out;
}
