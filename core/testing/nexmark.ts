/**
 * A deterministic Nexmark event generator: people, auctions and bids, after Apache Beam's Nexmark
 * generator (sdks/java/testing/nexmark .../sources/generator) and its Flink port (nexmark/nexmark).
 *
 * Event `index` i (0, 1, 2, ...) gets an event number and id as in Beam (ids are permuted within
 * groups of `outOfOrderGroupSize` to create bounded disorder), a kind from `eventId % 50` (1 person,
 * 3 auctions, 46 bids by default), an event time `baseTime + eventNumber * 1e6 / firstEventRate`
 * microseconds, and fields drawn from a PRNG seeded afresh from (seed, eventId). So every event can
 * be generated on its own, in any order, on any runtime, with identical results.
 *
 * Bids and auctions refer to recently generated people and auctions. As in Beam, a random pick may
 * run up to `personIdLead` / `auctionIdLead` (default 10) ids ahead of the last one generated,
 * so joins see some "future" keys; set both leads to 0 for strict referential integrity.
 *
 * Runtime-agnostic: no Node or DOM APIs.
 *
 * @example
 * const events = generateNexmark({ seed: 42 }, 1_000_000); // fast path: one array
 * for (const e of nexmarkEvents({ numEvents: 100 })) if (e.kind === "bid") use(e.bid.price);
 * nexmarkEvent({ seed: 42 }, 123_456); // equal to events[123_456]
 */

import { RivuletError } from "../errors.js";
import {
  bidChannelTables,
  lastBase0AuctionId,
  lastBase0PersonId,
  type NexmarkPlan,
  nextAuction,
  nextBid,
  nextPerson,
  PERSON_TABLES,
  timestampForEvent,
} from "./nexmark-model.js";
import { EXTRA_POOL_SIZE, getExtraPool, seedHash, seedRandomHashed } from "./nexmark-random.js";
import { asciiString, CHUNK, type NexmarkWasm, nexmarkWasm } from "./nexmark-wasm.js";

export interface Person {
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  /** Epoch millis. */
  dateTime: number;
  extra: string;
}

export interface Auction {
  id: number;
  itemName: string;
  description: string;
  /** Prices are in cents. */
  initialBid: number;
  reserve: number;
  /** Epoch millis. */
  dateTime: number;
  /** Epoch millis, after dateTime. */
  expires: number;
  /** A person id. */
  seller: number;
  /** 10..14 */
  category: number;
  extra: string;
}

export interface Bid {
  /** An auction id. */
  auction: number;
  /** A person id. */
  bidder: number;
  /** Cents. */
  price: number;
  channel: string;
  url: string;
  /** Epoch millis. */
  dateTime: number;
  extra: string;
}

/** One Nexmark event; `timestamp` is its event time (epoch millis), equal to the payload's dateTime. */
export type NexmarkEvent =
  | { kind: "person"; timestamp: number; person: Person }
  | { kind: "auction"; timestamp: number; auction: Auction }
  | { kind: "bid"; timestamp: number; bid: Bid };

export type NexmarkEventKind = NexmarkEvent["kind"];

/** Generator settings; every field is optional, with Beam's defaults (see NEXMARK_DEFAULTS). */
export interface NexmarkConfig {
  /** Events per second of event time. */
  firstEventRate?: number;
  /** Events `nexmarkEvents` yields; 0 or Infinity for an endless stream. */
  numEvents?: number;
  /** Out of every personProportion + auctionProportion + bidProportion events, in that order. */
  personProportion?: number;
  auctionProportion?: number;
  bidProportion?: number;
  /** 1 - 1/ratio of bids go to a hot auction; of auctions to a hot seller; of bids to a hot bidder. */
  hotAuctionRatio?: number;
  hotSellersRatio?: number;
  hotBiddersRatio?: number;
  /** Non-hot sellers and bidders are drawn from the latest this many people. */
  numActivePeople?: number;
  /** Non-hot bids go to one of the latest this many auctions. */
  numInFlightAuctions?: number;
  /** Average sizes, in Beam's byte accounting, that the `extra` padding tops events up to. */
  avgPersonByteSize?: number;
  avgAuctionByteSize?: number;
  avgBidByteSize?: number;
  /** Ids and timestamps are shuffled within consecutive groups of this many events; 1 = in order. */
  outOfOrderGroupSize?: number;
  /** Event time of event number 0, epoch millis. */
  baseTime?: number;
  /** Any safe integer; different seeds give different (but equally shaped) streams. */
  seed?: number;
  /** Id of the first event; shifts the kinds and ids (as Beam's splits do), not the timestamps. */
  firstEventId?: number;
  /** How far past the last generated person / auction a random reference may reach (Beam: 10). */
  personIdLead?: number;
  auctionIdLead?: number;
}

export type ResolvedNexmarkConfig = Readonly<Required<NexmarkConfig>>;

export const NEXMARK_DEFAULTS: ResolvedNexmarkConfig = Object.freeze({
  firstEventRate: 10_000,
  numEvents: 100_000,
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  outOfOrderGroupSize: 1,
  baseTime: Date.UTC(2026, 0, 1),
  seed: 0,
  firstEventId: 0,
  personIdLead: 10,
  auctionIdLead: 10,
});

function invalid(message: string): never {
  throw new RivuletError("INVALID_ARGUMENT", `Nexmark config: ${message}`);
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    invalid(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Fill in defaults and validate; the result is frozen, and fast to reuse with `nexmarkEvent`. */
export function resolveNexmarkConfig(config: NexmarkConfig = {}): ResolvedNexmarkConfig {
  if (plans.has(config)) return config as ResolvedNexmarkConfig;
  const resolved = validated(config);
  plans.set(resolved, makePlan(resolved));
  return resolved;
}

function validated(config: NexmarkConfig): ResolvedNexmarkConfig {
  const c: Required<NexmarkConfig> = { ...NEXMARK_DEFAULTS };
  for (const key of Object.keys(c) as (keyof NexmarkConfig)[]) {
    const v = config[key];
    if (v !== undefined) c[key] = v;
  }
  if (!(Number.isFinite(c.firstEventRate) && c.firstEventRate > 0)) {
    invalid(`firstEventRate must be a positive number, got ${c.firstEventRate}`);
  }
  if (c.numEvents !== Number.POSITIVE_INFINITY) checkInt("numEvents", c.numEvents, 0);
  checkInt("personProportion", c.personProportion, 1);
  checkInt("auctionProportion", c.auctionProportion, 1);
  checkInt("bidProportion", c.bidProportion, 0);
  checkInt("hotAuctionRatio", c.hotAuctionRatio, 1);
  checkInt("hotSellersRatio", c.hotSellersRatio, 1);
  checkInt("hotBiddersRatio", c.hotBiddersRatio, 1);
  checkInt("numActivePeople", c.numActivePeople, 1);
  checkInt("numInFlightAuctions", c.numInFlightAuctions, 0);
  checkInt("avgPersonByteSize", c.avgPersonByteSize, 0);
  checkInt("avgAuctionByteSize", c.avgAuctionByteSize, 0);
  checkInt("avgBidByteSize", c.avgBidByteSize, 0);
  checkInt("outOfOrderGroupSize", c.outOfOrderGroupSize, 1);
  if (c.outOfOrderGroupSize % 953 === 0) {
    // Beam shuffles a group by multiplying with 953 mod n: for multiples of 953 every event of a
    // group would get the same id.
    invalid(`outOfOrderGroupSize must not be a multiple of 953, got ${c.outOfOrderGroupSize}`);
  }
  checkInt("baseTime", c.baseTime, Number.MIN_SAFE_INTEGER);
  checkInt("seed", c.seed, Number.MIN_SAFE_INTEGER);
  checkInt("firstEventId", c.firstEventId, 0);
  checkInt("personIdLead", c.personIdLead, 0);
  checkInt("auctionIdLead", c.auctionIdLead, 0);
  return Object.freeze(c);
}

/** Plans of resolved (frozen) configs, so `nexmarkEvent(resolved, i)` does no per-call setup. */
const plans = new WeakMap<object, NexmarkPlan>();

function makePlan(c: ResolvedNexmarkConfig): NexmarkPlan {
  const totalProportion = c.personProportion + c.auctionProportion + c.bidProportion;
  return {
    seed: c.seed,
    seedHash: seedHash(c.seed),
    baseTime: c.baseTime,
    firstEventId: c.firstEventId,
    outOfOrderGroupSize: c.outOfOrderGroupSize,
    interEventDelayUs: 1_000_000 / c.firstEventRate,
    personProportion: c.personProportion,
    auctionProportion: c.auctionProportion,
    totalProportion,
    hotAuctionRatio: c.hotAuctionRatio,
    hotSellersRatio: c.hotSellersRatio,
    hotBiddersRatio: c.hotBiddersRatio,
    numActivePeople: c.numActivePeople,
    numInFlightAuctions: c.numInFlightAuctions,
    avgPersonByteSize: c.avgPersonByteSize,
    avgAuctionByteSize: c.avgAuctionByteSize,
    avgBidByteSize: c.avgBidByteSize,
    personIdLead: c.personIdLead,
    auctionIdLead: c.auctionIdLead,
    numEventsForAuctions: Math.floor((c.numInFlightAuctions * totalProportion) / c.auctionProportion),
  };
}

function planOf(config: NexmarkConfig): NexmarkPlan {
  // Plain config objects are validated afresh on every call (they may have been mutated).
  return plans.get(config) ?? makePlan(validated(config));
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RivuletError("INVALID_ARGUMENT", `Nexmark event index must be an integer >= 0, got ${index}`);
  }
}

/**
 * Beam's nextAdjustedEventNumber: within each group of n events the numbers are permuted by
 * multiplying with 953 mod n (a permutation, as 953 is prime and n no multiple of it).
 */
function adjustedEventNumber(plan: NexmarkPlan, eventNumber: number): number {
  const n = plan.outOfOrderGroupSize;
  if (n === 1) return eventNumber;
  const inGroup = eventNumber % n;
  return eventNumber - inGroup + ((inGroup * 953) % n);
}

function eventAt(plan: NexmarkPlan, index: number): NexmarkEvent {
  const eventNumber = adjustedEventNumber(plan, index);
  const eventId = plan.firstEventId + eventNumber;
  const timestamp = timestampForEvent(plan, eventNumber);
  seedRandomHashed(plan.seedHash, eventId);
  const rem = eventId % plan.totalProportion;
  if (rem < plan.personProportion) {
    return { kind: "person", timestamp, person: nextPerson(plan, eventId, timestamp) };
  }
  if (rem < plan.personProportion + plan.auctionProportion) {
    return { kind: "auction", timestamp, auction: nextAuction(plan, eventId, eventNumber, timestamp) };
  }
  const bid = nextBid(plan, lastBase0AuctionId(plan, eventId), lastBase0PersonId(plan, eventId), timestamp);
  return { kind: "bid", timestamp, bid };
}

/** The event with ordinal `index` (0-based) of the stream `config` describes. */
export function nexmarkEvent(config: NexmarkConfig, index: number): NexmarkEvent {
  checkIndex(index);
  return eventAt(planOf(config), index);
}

/**
 * Beam's watermark after emitting events 0..index-1: no event at `index` or later has an earlier
 * timestamp. Equals the timestamp of event `index` when outOfOrderGroupSize is 1.
 */
export function nexmarkWatermark(config: NexmarkConfig, index: number): number {
  checkIndex(index);
  const plan = planOf(config);
  const n = plan.outOfOrderGroupSize;
  return timestampForEvent(plan, index - (index % n));
}

/** The stream's first `numEvents` events (endless if numEvents is 0 or Infinity), lazily. */
export function* nexmarkEvents(config: NexmarkConfig = {}): Generator<NexmarkEvent, void, undefined> {
  const resolved = resolveNexmarkConfig(config);
  const plan = planOf(resolved);
  const end = resolved.numEvents === 0 ? Number.POSITIVE_INFINITY : resolved.numEvents;
  for (let i = 0; i < end; i++) yield eventAt(plan, i);
}

/**
 * Events `start .. start + n - 1` in one array: the fast path for benchmarks (one plan, one loop, no
 * per-event closures or iterator protocol). Ignores `numEvents`.
 */
export function generateNexmark(config: NexmarkConfig, n: number, start = 0): NexmarkEvent[] {
  return generateNexmarkBatch(config, n, start).values;
}

/** A batch of consecutive events, and their timestamps as a column. */
export interface NexmarkBatch {
  values: NexmarkEvent[];
  /** `timestamps[i] === values[i].timestamp`. */
  timestamps: Float64Array;
}

/**
 * `generateNexmark(config, n, start)` with the timestamps beside it in a column, made in the same
 * pass: what a source hands a job (values and timestamps), as the benchmark's generator broker does.
 *
 * @example
 * const { values, timestamps } = generateNexmarkBatch({ seed: 42 }, 1000, 5000); // events 5000..5999
 */
export function generateNexmarkBatch(config: NexmarkConfig, n: number, start = 0): NexmarkBatch {
  checkIndex(n);
  checkIndex(start);
  checkIndex(start + n);
  const plan = planOf(config);
  const values: NexmarkEvent[] = [];
  const timestamps = new Float64Array(n);
  if (plan.outOfOrderGroupSize !== 1) {
    for (let i = 0; i < n; i++) {
      const e = eventAt(plan, start + i);
      values.push(e);
      timestamps[i] = e.timestamp;
    }
  } else {
    fillInOrder(plan, start, n, values, timestamps);
  }
  return { values, timestamps };
}

/**
 * `eventAt` for consecutive indexes when events come in order (event number = index): the kind and
 * the last person and auction ids follow from a counter through the proportions instead of a
 * division per event.
 */
function fillInOrder(
  plan: NexmarkPlan,
  start: number,
  n: number,
  values: NexmarkEvent[],
  timestamps: Float64Array,
): void {
  const wasm = nexmarkWasm();
  if (wasm !== undefined && wasmSupports(plan)) {
    fillWithWasm(wasm, plan, start, n, values, timestamps);
    return;
  }
  const { personProportion: pp, auctionProportion: ap, totalProportion: total, seedHash } = plan;
  let eventId = plan.firstEventId + start;
  let epoch = Math.floor(eventId / total);
  let offset = eventId - epoch * total;
  for (let i = 0; i < n; i++) {
    const eventNumber = start + i;
    const timestamp = timestampForEvent(plan, eventNumber);
    seedRandomHashed(seedHash, eventId);
    let e: NexmarkEvent;
    if (offset >= pp + ap) {
      // As lastBase0AuctionId / lastBase0PersonId for a bid: this epoch's last auction and person.
      const bid = nextBid(plan, epoch * ap + ap - 1, epoch * pp + pp - 1, timestamp);
      e = { kind: "bid", timestamp, bid };
    } else if (offset < pp) {
      e = { kind: "person", timestamp, person: nextPerson(plan, eventId, timestamp) };
    } else {
      e = { kind: "auction", timestamp, auction: nextAuction(plan, eventId, eventNumber, timestamp) };
    }
    values.push(e);
    timestamps[i] = timestamp;
    eventId++;
    if (++offset === total) {
      offset = 0;
      epoch++;
    }
  }
}

/**
 * Whether the wasm core makes exactly `fillInOrder`'s events for this plan: its event counter and
 * the hot ratios are i32s, and it takes every `extra` from the shared pool (JS draws strings of half the pool or longer
 * afresh); nextExtra's length is at most avg + Math.round(avg * 0.2).
 */
function wasmSupports(plan: NexmarkPlan): boolean {
  const fits = (avg: number) => avg + Math.round(avg * 0.2) < EXTRA_POOL_SIZE / 2;
  return (
    plan.totalProportion <= 0x7fffffff &&
    plan.hotAuctionRatio <= 0x7fffffff &&
    plan.hotBiddersRatio <= 0x7fffffff &&
    plan.hotSellersRatio <= 0x7fffffff &&
    fits(plan.avgPersonByteSize) &&
    fits(plan.avgAuctionByteSize) &&
    fits(plan.avgBidByteSize)
  );
}

interface ChannelsByChoice {
  channelNames: string[];
  channelUrls: string[];
  numHot: number;
}
let byChoice: ChannelsByChoice | undefined;

/**
 * The bid channels' names and urls at the wasm core's choice + numHot (it stores hot channel i as
 * -1 - i), so a bid picks its channel without a branch.
 */
function channelsByChoice(): ChannelsByChoice {
  if (byChoice === undefined) {
    const { hotNames, hotUrls, names, urls } = bidChannelTables();
    byChoice = {
      channelNames: [...[...hotNames].reverse(), ...names],
      channelUrls: [...[...hotUrls].reverse(), ...urls],
      numHot: hotNames.length,
    };
  }
  return byChoice;
}

/**
 * `fillInOrder` through the wasm core (see nexmark-wasm.ts): it seeds and draws each event and
 * writes its numbers to columns, the chars of its strings (people's emailAddress and creditCard,
 * auctions' itemName and description) one after another, `CHUNK` events per call. Here those chars
 * become one string per chunk that the events' strings are slices of, and the objects are made
 * from the columns, with the same fields in the same order as `nextPerson`, `nextAuction` and
 * `nextBid`.
 */
function fillWithWasm(
  wasm: NexmarkWasm,
  plan: NexmarkPlan,
  start: number,
  n: number,
  values: NexmarkEvent[],
  timestamps: Float64Array,
): void {
  const { channelNames, channelUrls, numHot } = channelsByChoice();
  const [firstNames, lastNames, cities, states] = PERSON_TABLES as [string[], string[], string[], string[]];
  const pool = getExtraPool();
  const { personProportion: pp, auctionProportion: ap, totalProportion: total } = plan;
  const { timestamp: ts, id, person, price, reserve, expires, kind, choice } = wasm;
  const { extraOffset, extraLength, str, len1, len2 } = wasm;
  let eventId = plan.firstEventId + start;
  let epoch = Math.floor(eventId / total);
  let offset = eventId - epoch * total;
  for (let done = 0; done < n; done += CHUNK) {
    const count = Math.min(CHUNK, n - done);
    const numChars = wasm.fill(
      count,
      eventId,
      start + done,
      epoch,
      offset,
      plan.seedHash,
      pp,
      pp + ap,
      total,
      pp,
      ap,
      plan.baseTime,
      plan.interEventDelayUs,
      plan.hotAuctionRatio,
      plan.hotBiddersRatio,
      plan.hotSellersRatio,
      plan.numInFlightAuctions,
      plan.auctionIdLead,
      plan.numActivePeople,
      plan.personIdLead,
      plan.numEventsForAuctions,
      plan.avgPersonByteSize,
      plan.avgAuctionByteSize,
      plan.avgBidByteSize,
    );
    const text = numChars === 0 ? "" : asciiString(wasm.chars, numChars);
    timestamps.set(count === CHUNK ? ts : ts.subarray(0, count), done);
    // values.length + i: stores at the end grow the array as push does (TurboFan did not inline push here).
    const at0 = values.length;
    for (let i = 0; i < count; i++) {
      const timestamp = ts[i]!;
      const k = kind[i]!;
      const len = extraLength[i]!;
      const off = extraOffset[i]!;
      const extra = len === 0 ? "" : pool.slice(off, off + len);
      if (k === 0) {
        const c = choice[i]!;
        values[at0 + i] = {
          kind: "bid",
          timestamp,
          bid: {
            auction: id[i]!,
            bidder: person[i]!,
            price: price[i]!,
            channel: channelNames[c + numHot]!,
            url: channelUrls[c + numHot]!,
            dateTime: timestamp,
            extra,
          },
        };
      } else if (k === 2) {
        const at = str[i]!;
        const split = at + len1[i]!;
        values[at0 + i] = {
          kind: "auction",
          timestamp,
          auction: {
            id: id[i]!,
            itemName: text.slice(at, split),
            description: text.slice(split, split + len2[i]!),
            initialBid: price[i]!,
            reserve: reserve[i]!,
            dateTime: timestamp,
            expires: expires[i]!,
            seller: person[i]!,
            category: choice[i]!,
            extra,
          },
        };
      } else {
        const at = str[i]!;
        const split = at + len1[i]!;
        const c = choice[i]!;
        values[at0 + i] = {
          kind: "person",
          timestamp,
          person: {
            id: id[i]!,
            name: `${firstNames[c & 0xff]} ${lastNames[(c >>> 8) & 0xff]}`,
            emailAddress: text.slice(at, split),
            creditCard: text.slice(split, split + 19),
            city: cities[(c >>> 16) & 0xff]!,
            state: states[c >>> 24]!,
            dateTime: timestamp,
            extra,
          },
        };
      }
    }
    eventId += count;
    offset += count;
    epoch += Math.floor(offset / total);
    offset %= total;
  }
}
