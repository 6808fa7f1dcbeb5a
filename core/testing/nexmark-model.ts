/**
 * Person / auction / bid synthesis for the Nexmark generator (see `nexmark.ts`), after Apache Beam's
 * PersonGenerator, AuctionGenerator and BidGenerator; bid channels and urls after the Flink
 * generator (nexmark/nexmark), whose Bid has them.
 *
 * Every function here draws from the PRNG in `nexmark-random.ts`, which the caller has seeded for
 * the event; the order of draws follows Beam's.
 */

import type { Auction, Bid, Person } from "./nexmark.js";
import { nextExtra, nextInt, nextLong, nextPrice, nextString, withFixedRandom } from "./nexmark-random.js";

/** Ids start here so queries find matches even on tiny data sets (as in Beam). */
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
/** Hot sellers / auctions / bidders are the first (bidders: second) of each batch of this many. */
const HOT_SELLER_RATIO = 100;
const HOT_AUCTION_RATIO = 100;
const HOT_BIDDER_RATIO = 100;

const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES = [
  "Phoenix",
  "Los Angeles",
  "San Francisco",
  "Boise",
  "Portland",
  "Bend",
  "Redmond",
  "Seattle",
  "Kent",
  "Cheyenne",
];
const FIRST_NAMES = [
  "Peter",
  "Paul",
  "Luke",
  "John",
  "Saul",
  "Vicky",
  "Kate",
  "Julie",
  "Sarah",
  "Deiter",
  "Walter",
];
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
/** `nextPerson`'s first names, last names, cities and states, for the wasm path. */
export const PERSON_TABLES: readonly (readonly string[])[] = [FIRST_NAMES, LAST_NAMES, US_CITIES, US_STATES];

/** Everything the model needs, precomputed once per config (see `planFor` in nexmark.ts). */
export interface NexmarkPlan {
  readonly seed: number;
  /** `seedHash(seed)`: the per-event seeding's share that depends on the seed only. */
  readonly seedHash: number;
  readonly baseTime: number;
  readonly firstEventId: number;
  readonly outOfOrderGroupSize: number;
  readonly interEventDelayUs: number;
  readonly personProportion: number;
  readonly auctionProportion: number;
  readonly totalProportion: number;
  readonly hotAuctionRatio: number;
  readonly hotSellersRatio: number;
  readonly hotBiddersRatio: number;
  readonly numActivePeople: number;
  readonly numInFlightAuctions: number;
  readonly avgPersonByteSize: number;
  readonly avgAuctionByteSize: number;
  readonly avgBidByteSize: number;
  readonly personIdLead: number;
  readonly auctionIdLead: number;
  /** How many events it takes to generate numInFlightAuctions auctions. */
  readonly numEventsForAuctions: number;
}

/** Event time (epoch ms) of the event with the given (adjusted) event number. */
export function timestampForEvent(plan: NexmarkPlan, eventNumber: number): number {
  return plan.baseTime + Math.floor(Math.floor(eventNumber * plan.interEventDelayUs) / 1000);
}

/** Last person id generated at or before `eventId` (base 0): the person's own id for person events. */
export function lastBase0PersonId(plan: NexmarkPlan, eventId: number): number {
  const epoch = Math.floor(eventId / plan.totalProportion);
  let offset = eventId - epoch * plan.totalProportion;
  if (offset >= plan.personProportion) offset = plan.personProportion - 1;
  return epoch * plan.personProportion + offset;
}

/** Last auction id generated at or before `eventId` (base 0): the auction's own id for auction events. */
export function lastBase0AuctionId(plan: NexmarkPlan, eventId: number): number {
  let epoch = Math.floor(eventId / plan.totalProportion);
  let offset = eventId - epoch * plan.totalProportion;
  if (offset < plan.personProportion) {
    // A person: the last auction is the previous epoch's last one.
    epoch--;
    offset = plan.auctionProportion - 1;
  } else if (offset >= plan.personProportion + plan.auctionProportion) {
    // A bid: the last auction is this epoch's last one.
    offset = plan.auctionProportion - 1;
  } else {
    offset -= plan.personProportion;
  }
  return epoch * plan.auctionProportion + offset;
}

/**
 * A random recently active person (base 0), possibly up to personIdLead ids ahead; `lastPerson`
 * is `lastBase0PersonId` of the event.
 */
function nextBase0PersonId(plan: NexmarkPlan, lastPerson: number): number {
  const numPeople = lastPerson + 1;
  const active = Math.min(numPeople, plan.numActivePeople);
  return numPeople - active + nextLong(active + plan.personIdLead);
}

/**
 * A random auction likely still in flight (base 0), possibly up to auctionIdLead ids ahead;
 * `maxAuction` is `lastBase0AuctionId` of the event.
 */
function nextBase0AuctionId(plan: NexmarkPlan, maxAuction: number): number {
  const minAuction = Math.max(maxAuction - plan.numInFlightAuctions, 0);
  return minAuction + nextLong(maxAuction - minAuction + 1 + plan.auctionIdLead);
}

/** "0000" .. "9999", made on first use. */
let fourDigits: string[] | undefined;

function nextCreditCard(): string {
  if (fourDigits === undefined) {
    fourDigits = [];
    for (let i = 0; i < 10000; i++) fourDigits.push(String(i).padStart(4, "0"));
  }
  const d = fourDigits;
  return `${d[nextInt(10000)]} ${d[nextInt(10000)]} ${d[nextInt(10000)]} ${d[nextInt(10000)]}`;
}

export function nextPerson(plan: NexmarkPlan, eventId: number, timestamp: number): Person {
  const id = lastBase0PersonId(plan, eventId) + FIRST_PERSON_ID;
  const name = `${FIRST_NAMES[nextInt(FIRST_NAMES.length)]} ${LAST_NAMES[nextInt(LAST_NAMES.length)]}`;
  const emailAddress = `${nextString(7)}@${nextString(5)}.com`;
  const creditCard = nextCreditCard();
  const city = US_CITIES[nextInt(US_CITIES.length)]!;
  const state = US_STATES[nextInt(US_STATES.length)]!;
  const currentSize = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
  const extra = nextExtra(currentSize, plan.avgPersonByteSize);
  return { id, name, emailAddress, creditCard, city, state, dateTime: timestamp, extra };
}

export function nextAuction(
  plan: NexmarkPlan,
  eventId: number,
  eventNumber: number,
  timestamp: number,
): Auction {
  const id = lastBase0AuctionId(plan, eventId) + FIRST_AUCTION_ID;
  let seller: number;
  const lastPerson = lastBase0PersonId(plan, eventId);
  if (nextInt(plan.hotSellersRatio) > 0) {
    // Hot seller: the first person of the latest batch of HOT_SELLER_RATIO.
    seller = Math.trunc(lastPerson / HOT_SELLER_RATIO) * HOT_SELLER_RATIO;
  } else {
    seller = nextBase0PersonId(plan, lastPerson);
  }
  seller += FIRST_PERSON_ID;
  const category = FIRST_CATEGORY_ID + nextInt(NUM_CATEGORIES);
  const initialBid = nextPrice();
  // Auction length: uniform with mean = time until numInFlightAuctions more auctions have been made.
  const horizonMs = timestampForEvent(plan, eventNumber + plan.numEventsForAuctions) - timestamp;
  const expires = timestamp + 1 + nextLong(Math.max(horizonMs * 2, 1));
  const itemName = nextString(20);
  const description = nextString(100);
  const reserve = initialBid + nextPrice();
  const currentSize = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
  const extra = nextExtra(currentSize, plan.avgAuctionByteSize);
  return {
    id,
    itemName,
    description,
    initialBid,
    reserve,
    dateTime: timestamp,
    expires,
    seller,
    category,
    extra,
  };
}

const HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"];
const CHANNELS_NUMBER = 10_000;
const CODE_UNDERSCORE = 95;
let hotUrls: string[] | undefined;
let channelNames: string[] | undefined;
let channelUrls: string[] | undefined;

function baseUrl(): string {
  const a = nextString(5, CODE_UNDERSCORE);
  const b = nextString(5, CODE_UNDERSCORE);
  const c = nextString(5, CODE_UNDERSCORE);
  return `https://www.nexmark.com/${a}/${b}/${c}/item.htm?query=1`;
}

/** Java's Math.abs(Integer.reverse(i)), except 2^31 stays positive. */
function reversedChannelId(i: number): number {
  let r = 0;
  for (let b = 0; b < 32; b++) r = (r << 1) | ((i >>> b) & 1);
  return Math.abs(r | 0);
}

/** Channel and url tables, built once from a fixed seed (Flink builds them from an unseeded PRNG). */
function buildChannels(): void {
  withFixedRandom(0x6368616e, 0x6e656c, () => {
    hotUrls = HOT_CHANNELS.map(baseUrl);
    const names: string[] = new Array(CHANNELS_NUMBER);
    const urls: string[] = new Array(CHANNELS_NUMBER);
    for (let i = 0; i < CHANNELS_NUMBER; i++) {
      let url = baseUrl();
      if (nextInt(10) > 0) url += `&channel_id=${reversedChannelId(i)}`;
      names[i] = `channel-${i}`;
      urls[i] = url;
    }
    channelNames = names;
    channelUrls = urls;
  });
}

/** The bid channels' names and urls (hot: HOT_CHANNELS.length of them, others: CHANNELS_NUMBER), for the wasm path. */
export function bidChannelTables(): {
  hotNames: readonly string[];
  hotUrls: readonly string[];
  names: readonly string[];
  urls: readonly string[];
} {
  if (channelNames === undefined) buildChannels();
  return { hotNames: HOT_CHANNELS, hotUrls: hotUrls!, names: channelNames!, urls: channelUrls! };
}

/**
 * A bid. `lastAuction` and `lastPerson` are `lastBase0AuctionId` and `lastBase0PersonId` of the
 * event (a batch knows them without dividing; see `bidIds`).
 */
export function nextBid(plan: NexmarkPlan, lastAuction: number, lastPerson: number, timestamp: number): Bid {
  let auction: number;
  if (nextInt(plan.hotAuctionRatio) > 0) {
    // Hot auction: the first of the latest batch of HOT_AUCTION_RATIO auctions.
    auction = Math.trunc(lastAuction / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO;
  } else {
    auction = nextBase0AuctionId(plan, lastAuction);
  }
  auction += FIRST_AUCTION_ID;

  let bidder: number;
  if (nextInt(plan.hotBiddersRatio) > 0) {
    // Hot bidder: the second person of the latest batch (so hot bidders and sellers differ). Beam
    // may pick the person right after the last one; never go beyond the allowed lead.
    bidder = Math.min(
      Math.trunc(lastPerson / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1,
      lastPerson + plan.personIdLead,
    );
  } else {
    bidder = nextBase0PersonId(plan, lastPerson);
  }
  bidder += FIRST_PERSON_ID;

  const price = nextPrice();
  let channel: string;
  let url: string;
  if (channelNames === undefined) buildChannels();
  if (nextInt(2) > 0) {
    const i = nextInt(HOT_CHANNELS.length);
    channel = HOT_CHANNELS[i]!;
    url = hotUrls![i]!;
  } else {
    const i = nextInt(CHANNELS_NUMBER);
    channel = channelNames![i]!;
    url = channelUrls![i]!;
  }
  const extra = nextExtra(8 + 8 + 8 + 8, plan.avgBidByteSize);
  return { auction, bidder, price, channel, url, dateTime: timestamp, extra };
}
