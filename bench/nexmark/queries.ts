/**
 * Nexmark q0-q8 as Rivulet pipelines, after the SQL of Flink's nexmark/nexmark (q6, which Flink
 * SQL cannot run, after Beam's Query6). Every query reads one topic of `NexmarkEvent` values (all
 * three kinds, as `generateNexmark` makes them) and splits it with `filter`, so the same definitions
 * run on in-memory topics here and on Kafka later.
 *
 * Event time is the event's `dateTime` (`timestamp`, equal to it), with Flink nexmark's bounded
 * out-of-orderness of 4 s (`WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`).
 *
 * Where the SQL is an unbounded (non-windowed) join, the pipeline keeps keyed state in a `process`
 * step and emits incrementally: q3 person-auction, q4/q6 auction-bid (closed when the watermark
 * passes `expires`). Output shapes follow the SQL's select lists. test/unit/nexmark-queries.test.ts
 * checks every query against `reference.ts`; bench/README.md lists the deviations from Flink's SQL.
 */
import {
  type Aggregator,
  avg,
  count,
  listState,
  Pipeline,
  type Stream,
  sliding,
  tumbling,
  valueState,
} from "../../core/index.js";
import type { Auction, Bid, NexmarkEvent, Person } from "../../core/testing.js";

/** Flink nexmark's watermark delay. */
export const OUT_OF_ORDERNESS = 4_000;
/** q5's hop window, q7's and q8's tumbling window (Flink nexmark: 10 s / 2 s). */
export const Q5_SIZE = 10_000;
export const Q5_SLIDE = 2_000;
export const Q7_SIZE = 10_000;
export const Q8_SIZE = 10_000;
/** q6 averages the last this many closed auctions of a seller (Beam's Query6). */
export const Q6_LAST = 10;
/** q1's dollar-to-euro rate. */
export const EURO_RATE = 0.908;
/** q3's states and category. */
export const Q3_STATES: readonly string[] = ["OR", "ID", "CA"];
export const Q3_CATEGORY = 10;

export type PersonEvent = Extract<NexmarkEvent, { kind: "person" }>;
export type AuctionEvent = Extract<NexmarkEvent, { kind: "auction" }>;
export type BidEvent = Extract<NexmarkEvent, { kind: "bid" }>;

export interface Q1Result {
  auction: number;
  bidder: number;
  price: number;
  dateTime: number;
  extra: string;
}
export interface Q2Result {
  auction: number;
  price: number;
}
export interface Q3Result {
  name: string;
  city: string;
  state: string;
  id: number;
}
/** An auction closed (the watermark passed `expires`) with at least one bid in [dateTime, expires]. */
export interface ClosedAuction {
  id: number;
  seller: number;
  category: number;
  expires: number;
  /** The highest such bid's price. */
  final: number;
}
export interface Q4Result {
  category: number;
  /** Average closing price of the category's auctions closed so far (an update per closed auction). */
  avg: number;
}
export interface Q5Result {
  auction: number;
  /** Bids on the auction in the window: the window's largest count (ties: every auction with it). */
  num: number;
  start: number;
  end: number;
}
export interface Q6Result {
  seller: number;
  /** Average closing price of the seller's last (up to) 10 closed auctions. */
  avg: number;
}
export interface Q7Result {
  auction: number;
  price: number;
  bidder: number;
  dateTime: number;
  extra: string;
}
export interface Q8Result {
  id: number;
  name: string;
  starttime: number;
}

export const isPerson = (e: NexmarkEvent): e is PersonEvent => e.kind === "person";
export const isAuction = (e: NexmarkEvent): e is AuctionEvent => e.kind === "auction";
export const isBid = (e: NexmarkEvent): e is BidEvent => e.kind === "bid";

/** The input: every Nexmark event, in event time. */
export function nexmarkSource(input: string): Stream<NexmarkEvent> {
  return Pipeline.source<NexmarkEvent>(input, {
    timestamp: (e) => e.timestamp,
    watermark: { maxOutOfOrderness: OUT_OF_ORDERNESS },
  });
}

/** q0, pass-through: every bid, as it is. */
export function q0(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter(isBid)
    .map((e) => e.bid)
    .to(output);
}

/** q1, currency conversion: bids with the price in euros (`0.908 * price`). */
export function q1(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter(isBid)
    .map((e): Q1Result => {
      const b = e.bid;
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: EURO_RATE * b.price,
        dateTime: b.dateTime,
        extra: b.extra,
      };
    })
    .to(output);
}

/** q2, selection: `(auction, price)` of the bids on every 123rd auction (Flink's `MOD(auction, 123) = 0`). */
export function q2(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter((e) => e.kind === "bid" && e.bid.auction % 123 === 0)
    .map((e): Q2Result => {
      const b = (e as BidEvent).bid;
      return { auction: b.auction, price: b.price };
    })
    .to(output);
}

const q3Seller = valueState<Person | false>("seller");
const q3Waiting = listState<number>("waiting");

/**
 * q3, local item suggestion: `(name, city, state, id)` for every auction of category 10 whose
 * seller lives in OR, ID or CA. An unbounded join, so incremental: people and category-10
 * auctions keyed by person id; a person is kept (or `false` when in another state), auctions that
 * come before their seller wait for them.
 */
export function q3(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter((e) => e.kind === "person" || (e.kind === "auction" && e.auction.category === Q3_CATEGORY))
    .keyBy((e) => (e.kind === "person" ? e.person.id : (e as AuctionEvent).auction.seller))
    .process<Q3Result>({
      onRecord(e, ctx) {
        const seller = ctx.state(q3Seller);
        if (e.kind === "person") {
          const p = e.person;
          const local = Q3_STATES.includes(p.state);
          seller.set(local ? p : false);
          const waiting = ctx.state(q3Waiting);
          if (local) for (const id of waiting.get()) ctx.emit(q3Result(p, id));
          waiting.clear();
        } else if (e.kind === "auction") {
          const p = seller.get();
          if (p === undefined) ctx.state(q3Waiting).add(e.auction.id);
          else if (p !== false) ctx.emit(q3Result(p, e.auction.id));
        }
      },
    })
    .to(output);
}

function q3Result(p: Person, id: number): Q3Result {
  return { name: p.name, city: p.city, state: p.state, id };
}

const openAuction = valueState<Auction>("auction");
const highest = valueState<number>("highest");
/** Bids that came before their auction, and the time of the timer that drops them. */
const early = listState<Bid>("early");
const earlyCleanup = valueState<number>("earlyCleanup");

const inAuction = (a: Auction, b: Bid) => b.dateTime >= a.dateTime && b.dateTime <= a.expires;

/**
 * The join of q4 and q6: `MAX(B.price) ... FROM auction A, bid B WHERE A.id = B.auction AND
 * B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY A.id`, emitted once per auction when the
 * watermark passes `expires` (no bid can join after that). Bids that arrive before their auction
 * wait until the watermark passes their own time (no auction that could take them can come after).
 */
export function closedAuctions(events: Stream<NexmarkEvent>): Stream<ClosedAuction> {
  return events
    .filter((e) => e.kind !== "person")
    .keyBy((e) => (e.kind === "auction" ? e.auction.id : (e as BidEvent).bid.auction))
    .process<ClosedAuction>({
      onRecord(e, ctx) {
        if (e.kind === "auction") {
          const a = e.auction;
          ctx.state(openAuction).set(a);
          ctx.timers.eventTime(a.expires);
          const waiting = ctx.state(early);
          let max = -1;
          for (const b of waiting.get()) if (inAuction(a, b) && b.price > max) max = b.price;
          if (max >= 0) ctx.state(highest).set(max);
          waiting.clear();
        } else if (e.kind === "bid") {
          const b = e.bid;
          const a = ctx.state(openAuction).get();
          if (a !== undefined) {
            if (inAuction(a, b)) {
              const h = ctx.state(highest);
              const max = h.get();
              if (max === undefined || b.price > max) h.set(b.price);
            }
            return;
          }
          ctx.state(early).add(b);
          const cleanup = ctx.state(earlyCleanup);
          if (cleanup.get() === undefined) {
            cleanup.set(b.dateTime);
            ctx.timers.eventTime(b.dateTime);
          }
        }
      },
      onTimer(t, ctx) {
        const auction = ctx.state(openAuction);
        const a = auction.get();
        if (a !== undefined && t >= a.expires) {
          const max = ctx.state(highest).get();
          if (max !== undefined)
            ctx.emit({ id: a.id, seller: a.seller, category: a.category, expires: a.expires, final: max });
          auction.clear();
          ctx.state(highest).clear();
        }
        const cleanup = ctx.state(earlyCleanup);
        if (cleanup.get() !== t) return;
        cleanup.clear();
        const waiting = ctx.state(early);
        const left = waiting.get().filter((b) => b.dateTime > t);
        waiting.update(left);
        if (left.length > 0) {
          let last = t;
          for (const b of left) if (b.dateTime > last) last = b.dateTime;
          cleanup.set(last);
          ctx.timers.eventTime(last);
        }
      },
    });
}

/** q4, average price per category: the running average of the closing prices of each category. */
export function q4(input: string, output: string): Pipeline {
  return closedAuctions(nexmarkSource(input))
    .keyBy((c) => c.category)
    .aggregate(avg((c) => c.final))
    .map((r): Q4Result => ({ category: r.key, avg: r.value }))
    .to(output);
}

interface WindowBest {
  num: number;
  auctions: number[];
}
const windowBest = valueState<WindowBest>("best");

/**
 * q5, hot items: per sliding window (10 s every 2 s), the auction(s) with the most bids. Counts
 * per auction and window, then per window (keyed by its end) the largest, emitted when the
 * watermark passes the window.
 */
export function q5(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter(isBid)
    .keyBy((e) => e.bid.auction)
    .window(sliding(Q5_SIZE, Q5_SLIDE))
    .aggregate(count())
    .keyBy((r) => r.end)
    .process<Q5Result>({
      onRecord(r, ctx) {
        const s = ctx.state(windowBest);
        const best = s.get();
        if (best === undefined) {
          s.set({ num: r.value, auctions: [r.key] });
          ctx.timers.eventTime(r.end - 1);
        } else if (r.value > best.num) {
          best.num = r.value;
          best.auctions = [r.key];
        } else if (r.value === best.num) best.auctions.push(r.key);
      },
      onTimer(t, ctx) {
        const s = ctx.state(windowBest);
        const best = s.get();
        if (best === undefined) return;
        const end = t + 1;
        for (const auction of best.auctions) ctx.emit({ auction, num: best.num, start: end - Q5_SIZE, end });
        s.clear();
      },
    })
    .to(output);
}

const lastFinals = valueState<number[]>("finals");

/**
 * q6, average selling price by seller: on every closed auction, the average closing price of the
 * seller's last 10 closed auctions (in closing order: by `expires`, then auction id).
 */
export function q6(input: string, output: string): Pipeline {
  return closedAuctions(nexmarkSource(input))
    .keyBy((c) => c.seller)
    .process<Q6Result>({
      onRecord(c, ctx) {
        const s = ctx.state(lastFinals);
        let finals = s.get();
        if (finals === undefined) s.set((finals = []));
        finals.push(c.final);
        if (finals.length > Q6_LAST) finals.shift();
        let sum = 0;
        for (const f of finals) sum += f;
        ctx.emit({ seller: c.seller, avg: sum / finals.length });
      },
    })
    .to(output);
}

interface Highest {
  price: number;
  bids: Bid[];
}

/** The bids with the highest price (all of them on a tie). */
const highestBids: Aggregator<BidEvent, Highest, Bid[]> = {
  init: () => ({ price: -1, bids: [] }),
  add: (acc, e) => {
    const b = e.bid;
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids = [b];
    } else if (b.price === acc.price) acc.bids.push(b);
    return acc;
  },
  merge: (a, b) =>
    a.price > b.price ? a : b.price > a.price ? b : { price: a.price, bids: [...a.bids, ...b.bids] },
  result: (acc) => acc.bids,
};

/**
 * q7, highest bid: per 10 s tumbling window, the bids with the window's highest price. One window
 * for all bids (a constant key: Rivulet has no windowAll yet) whose aggregate keeps the top bids.
 */
export function q7(input: string, output: string): Pipeline {
  return nexmarkSource(input)
    .filter(isBid)
    .keyBy(() => 0)
    .window(tumbling(Q7_SIZE))
    .aggregate(highestBids)
    .flatMap((r) => r.value)
    .map(
      (b): Q7Result => ({
        auction: b.auction,
        price: b.price,
        bidder: b.bidder,
        dateTime: b.dateTime,
        extra: b.extra,
      }),
    )
    .to(output);
}

/**
 * q8, monitor new users: people who created an auction in the 10 s tumbling window they joined in,
 * once per person and window: persons grouped by (id, window), auctions by (seller, window), the
 * two joined in that window on id = seller.
 */
export function q8(input: string, output: string): Pipeline {
  const events = nexmarkSource(input);
  // As the SQL (and Flink's plan): each side grouped by its key and window first, then joined on
  // (key, window), so a person meets a seller's auctions once, however many there are.
  const persons = events
    .filter(isPerson)
    .keyBy((e) => e.person.id)
    .window(tumbling(Q8_SIZE))
    .reduce((first) => first)
    .keyBy((w) => w.key);
  const sellers = events
    .filter(isAuction)
    .keyBy((e) => e.auction.seller)
    .window(tumbling(Q8_SIZE))
    .aggregate(count())
    .keyBy((w) => w.key);
  return persons
    .join(
      sellers,
      { window: tumbling(Q8_SIZE) },
      (p, _s): Q8Result => ({ id: p.key, name: p.value.person.name, starttime: p.start }),
    )
    .to(output);
}

export type QueryName = "q0" | "q1" | "q2" | "q3" | "q4" | "q5" | "q6" | "q7" | "q8";

/** Every query by name. */
export const QUERIES: Readonly<Record<QueryName, (input: string, output: string) => Pipeline>> = {
  q0,
  q1,
  q2,
  q3,
  q4,
  q5,
  q6,
  q7,
  q8,
};

export const QUERY_NAMES = Object.keys(QUERIES) as QueryName[];
