import { describe, expect, it } from "vitest";
import { isRivuletError } from "../errors.js";
import {
  type Auction,
  type Bid,
  generateNexmark,
  generateNexmarkBatch,
  NEXMARK_DEFAULTS,
  type NexmarkBatch,
  type NexmarkConfig,
  type NexmarkEvent,
  nexmarkEvent,
  nexmarkEvents,
  nexmarkWatermark,
  type Person,
  resolveNexmarkConfig,
} from "./nexmark.js";
import { pow10x6, priceFor } from "./nexmark-random.js";
import { asciiString, nexmarkWasm, setNexmarkWasmEnabled } from "./nexmark-wasm.js";

const N = 50_000;
const base = resolveNexmarkConfig({ seed: 7 });
const stream = generateNexmark(base, N);

function split(events: NexmarkEvent[]): { people: Person[]; auctions: Auction[]; bids: Bid[] } {
  const people: Person[] = [];
  const auctions: Auction[] = [];
  const bids: Bid[] = [];
  for (const e of events) {
    if (e.kind === "person") people.push(e.person);
    else if (e.kind === "auction") auctions.push(e.auction);
    else bids.push(e.bid);
  }
  return { people, auctions, bids };
}

const { people, auctions, bids } = split(stream);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("nexmark determinism", () => {
  it("same seed gives identical events, a different seed different ones", () => {
    expect(generateNexmark({ seed: 7 }, 3000)).toEqual(stream.slice(0, 3000));
    const other = generateNexmark({ seed: 8 }, 3000);
    expect(other).not.toEqual(stream.slice(0, 3000));
    // Same shape though: kinds and timestamps do not depend on the seed.
    expect(other.map((e) => e.kind)).toEqual(stream.slice(0, 3000).map((e) => e.kind));
    const prices = (es: NexmarkEvent[]) => es.flatMap((e) => (e.kind === "bid" ? [e.bid.price] : []));
    const a = prices(other);
    const b = prices(stream.slice(0, 3000));
    expect(a.filter((p, i) => p === b[i]).length).toBeLessThan(a.length / 100);
  });

  it("is stable: a fingerprint of the first events is pinned (changes mean a new stream)", () => {
    // FNV-1a over the JSON text; the generator uses only exactly specified arithmetic, so this holds
    // on every JS engine.
    let h = 0x811c9dc5;
    const text = JSON.stringify(stream.slice(0, 2000));
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    expect((h >>> 0).toString(16)).toBe("5d97bfba");
  });

  it("the event by index equals the iterator's, in any order, in or out of order", () => {
    for (const config of [
      { seed: 3, numEvents: 2000 },
      { seed: 3, numEvents: 2000, outOfOrderGroupSize: 37 },
    ]) {
      const fromIterator = [...nexmarkEvents(config)];
      expect(fromIterator).toHaveLength(2000);
      for (const i of [1999, 0, 1234, 4, 1, 50, 51, 777]) {
        expect(nexmarkEvent(config, i)).toEqual(fromIterator[i]);
        expect(nexmarkEvent(resolveNexmarkConfig(config), i)).toEqual(fromIterator[i]);
      }
      expect(generateNexmark(config, 100, 900)).toEqual(fromIterator.slice(900, 1000));
    }
    expect(nexmarkEvent(base, 31_337)).toEqual(stream[31_337]);
  });

  it("nexmarkEvents honours numEvents; 0 means endless", () => {
    expect([...nexmarkEvents({ numEvents: 7 })]).toHaveLength(7);
    let count = 0;
    for (const _ of nexmarkEvents({ numEvents: 0 })) if (++count === 150) break;
    expect(count).toBe(150);
    expect(generateNexmark({}, 0)).toEqual([]);
  });
});

describe("nexmark shape", () => {
  it("kinds come in proportion 1 : 3 : 46", () => {
    expect([people.length, auctions.length, bids.length]).toEqual([N / 50, (3 * N) / 50, (46 * N) / 50]);
    const custom = split(
      generateNexmark({ personProportion: 2, auctionProportion: 5, bidProportion: 13 }, 2000),
    );
    expect([custom.people.length, custom.auctions.length, custom.bids.length]).toEqual([200, 500, 1300]);
    // firstEventId shifts the kinds as in Beam.
    expect(nexmarkEvent({ firstEventId: 1 }, 0).kind).toBe("auction");
    expect(nexmarkEvent({ firstEventId: 4 }, 0).kind).toBe("bid");
  });

  it("people and auctions get consecutive ids from 1000", () => {
    expect(people.map((p) => p.id)).toEqual(people.map((_, i) => 1000 + i));
    expect(auctions.map((a) => a.id)).toEqual(auctions.map((_, i) => 1000 + i));
  });

  /** How far past the latest person / auction generated so far each reference reaches. */
  function referenceLeads(events: NexmarkEvent[]): number[] {
    let maxPerson = -1;
    let maxAuction = -1;
    const leads: number[] = [];
    const person = (id: number) => {
      if (id < 1000) throw new Error(`person id ${id}`);
      leads.push(id - maxPerson);
    };
    for (const e of events) {
      if (e.kind === "person") maxPerson = Math.max(maxPerson, e.person.id);
      else if (e.kind === "auction") {
        maxAuction = Math.max(maxAuction, e.auction.id);
        person(e.auction.seller);
      } else {
        if (e.bid.auction < 1000) throw new Error(`auction id ${e.bid.auction}`);
        leads.push(e.bid.auction - maxAuction);
        person(e.bid.bidder);
      }
    }
    return leads;
  }

  it("references only existing people and auctions when the leads are 0", () => {
    const leads = referenceLeads(generateNexmark({ seed: 1, personIdLead: 0, auctionIdLead: 0 }, 20_000));
    expect(Math.max(...leads)).toBe(0);
  });

  it("references at most 10 ids ahead by default, as Beam does", () => {
    const leads = referenceLeads(stream);
    expect(Math.max(...leads)).toBe(10);
    expect(leads.filter((d) => d > 0).length / leads.length).toBeLessThan(0.05);
  });

  it("timestamps follow the event rate and never decrease when in order", () => {
    // 10,000 events/s: ten events per millisecond.
    const off = stream.filter((e, i) => e.timestamp !== NEXMARK_DEFAULTS.baseTime + Math.floor(i / 10));
    expect(off).toEqual([]);
    const slow = generateNexmark({ firstEventRate: 3, baseTime: 0 }, 10);
    expect(slow.map((e) => e.timestamp)).toEqual([0, 333, 666, 1000, 1333, 1666, 2000, 2333, 2666, 3000]);
    for (const e of stream.slice(0, 500)) {
      const dateTime =
        e.kind === "person" ? e.person.dateTime : e.kind === "auction" ? e.auction.dateTime : e.bid.dateTime;
      expect(dateTime).toBe(e.timestamp);
    }
    expect(nexmarkWatermark(base, 12_345)).toBe(stream[12_345]!.timestamp);
  });

  it("out-of-order groups permute events within bounded disorder", () => {
    const size = 40;
    const config: NexmarkConfig = { seed: 7, outOfOrderGroupSize: size, firstEventRate: 1000 };
    const shuffled = generateNexmark(config, 4000);
    let inversions = 0;
    let lastWatermark = Number.NEGATIVE_INFINITY;
    const problems: string[] = [];
    shuffled.forEach((e, i) => {
      const groupStart = i - (i % size);
      const watermark = nexmarkWatermark(config, i);
      if (watermark < lastWatermark) problems.push(`watermark went back at ${i}`);
      lastWatermark = watermark;
      if (e.timestamp < watermark) problems.push(`event ${i} before the watermark`);
      // 1 event/ms: disorder stays within the group.
      if (e.timestamp >= NEXMARK_DEFAULTS.baseTime + groupStart + size) problems.push(`event ${i} too late`);
      if (i > 0 && e.timestamp < shuffled[i - 1]!.timestamp) inversions++;
    });
    expect(problems).toEqual([]);
    expect(inversions).toBeGreaterThan(500);
    // Same events as in order, just permuted within each group.
    const inOrder = split(generateNexmark({ seed: 7, firstEventRate: 1000 }, 4000));
    const got = split(shuffled);
    const byId = <T extends { id: number }>(xs: T[]) => [...xs].sort((a, b) => a.id - b.id);
    expect(byId(got.people)).toEqual(inOrder.people);
    expect(byId(got.auctions)).toEqual(inOrder.auctions);
  });

  it("a few hot auctions get most bids", () => {
    const counts = new Map<number, number>();
    for (const b of bids) counts.set(b.auction, (counts.get(b.auction) ?? 0) + 1);
    const top = Math.max(...counts.values());
    const uniformShare = bids.length / counts.size;
    expect(top).toBeGreaterThan(20 * uniformShare);
    // hotAuctionRatio 2: about half the bids go to a hot auction (id a multiple of 100 from 1000).
    const hot = bids.filter((b) => b.auction % 100 === 0).length / bids.length;
    expect(hot).toBeGreaterThan(0.45);
    expect(hot).toBeLessThan(0.6);
    // Hot bidders (ratio 4) and sellers (ratio 4): ~3/4 of picks.
    const hotBidders = bids.filter((b) => b.bidder % 100 === 1).length / bids.length;
    expect(hotBidders).toBeGreaterThan(0.7);
  });

  it("extra padding brings average sizes to the configured byte sizes", () => {
    const personSize = (p: Person) =>
      8 +
      p.name.length +
      p.emailAddress.length +
      p.creditCard.length +
      p.city.length +
      p.state.length +
      p.extra.length;
    const auctionSize = (a: Auction) => 8 + a.itemName.length + a.description.length + 40 + a.extra.length;
    const bidSize = (b: Bid) => 32 + b.extra.length;
    expect(mean(people.map(personSize))).toBeCloseTo(200, -1);
    expect(Math.abs(mean(auctions.map(auctionSize)) - 500)).toBeLessThan(25);
    expect(Math.abs(mean(bids.map(bidSize)) - 100)).toBeLessThan(5);
    const big = split(generateNexmark({ avgBidByteSize: 1000, avgPersonByteSize: 10 }, 5000));
    expect(Math.abs(mean(big.bids.map(bidSize)) - 1000)).toBeLessThan(50);
    expect(big.people.every((p) => p.extra === "")).toBe(true);
    expect(new Set(bids.slice(0, 100).map((b) => b.extra)).size).toBe(100);
    expect(bids[0]!.extra).toMatch(/^[a-z]+$/);
  });

  it("fields are plausible", () => {
    // Collect offenders rather than calling expect per field: tens of thousands of expects are slow.
    const bad = (xs: unknown[]) => expect(xs.slice(0, 3)).toEqual([]);
    const states = new Set(["AZ", "CA", "ID", "OR", "WA", "WY"]);
    bad(
      people.filter(
        (p) =>
          !states.has(p.state) ||
          !/^[A-Z][a-z]+ [A-Z][a-z]+$/.test(p.name) ||
          !/^[a-z ]*@[a-z ]*\.com$/.test(p.emailAddress) ||
          !/^\d{4} \d{4} \d{4} \d{4}$/.test(p.creditCard),
      ),
    );
    expect(new Set(people.map((p) => p.city)).size).toBe(10);
    bad(
      auctions.filter(
        (a) =>
          a.category < 10 ||
          a.category > 14 ||
          a.reserve <= a.initialBid ||
          a.expires <= a.dateTime ||
          a.itemName.length >= 20 ||
          a.description.length >= 100,
      ),
    );
    expect(new Set(auctions.map((a) => a.category)).size).toBe(5);
    // Auctions last on average about as long as it takes to start 100 more (1667 events = 167 ms).
    const length = mean(auctions.map((a) => a.expires - a.dateTime));
    expect(length).toBeGreaterThan(140);
    expect(length).toBeLessThan(200);

    const hotChannels = new Set(["Google", "Facebook", "Baidu", "Apple"]);
    const urlOf = new Map<string, string>();
    bad(
      bids.filter((b) => {
        const known = urlOf.get(b.channel);
        urlOf.set(b.channel, b.url);
        return (
          (known !== undefined && known !== b.url) || // one url per channel
          (!hotChannels.has(b.channel) && !/^channel-\d{1,4}$/.test(b.channel)) ||
          !/^https:\/\/www\.nexmark\.com\/[a-z_]+\/[a-z_]+\/[a-z_]+\/item\.htm\?query=1/.test(b.url) ||
          b.price < 100 ||
          b.price > 100_000_000
        );
      }),
    );
    const hot = bids.filter((b) => hotChannels.has(b.channel)).length / bids.length;
    expect(hot).toBeGreaterThan(0.45);
    expect(hot).toBeLessThan(0.55);
    // Prices are log-uniform over 6 decades: the median is around 10^3 dollars.
    const sorted = bids.map((b) => b.price).sort((x, y) => x - y);
    expect(sorted[sorted.length >> 1]).toBeGreaterThan(50_000);
    expect(sorted[sorted.length >> 1]).toBeLessThan(200_000);
  });

  it("prices use an engine-independent 10^(6u) that tracks Math.pow", () => {
    for (let i = 0; i <= 1000; i++) {
      const u = i / 1001;
      expect(Math.abs(pow10x6(u) / 10 ** (6 * u) - 1)).toBeLessThan(1e-12);
    }
  });

  it("prices: the fast path rounds exactly as pow10x6 does, near rounding boundaries too", () => {
    const exact = (u: number) => Math.floor(pow10x6(u) * 100 + 0.5);
    let x = 0x2545f491;
    for (let i = 0; i < 300_000; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const u = x / 2 ** 32;
      if (priceFor(u) !== exact(u)) expect.fail(`u = ${u}: ${priceFor(u)} vs ${exact(u)}`);
    }
    // The top of the range, draw by draw: x = 10^(6u) * 100 + 0.5 steps by ~0.3 there, so some
    // x fall within 1e-4 of an integer, where the fast value is too close to call and the exact
    // one decides.
    let close = 0;
    for (let k = 2 ** 32 - 1_000_000; k < 2 ** 32; k++) {
      const u = k / 2 ** 32;
      const e = pow10x6(u) * 100 + 0.5;
      if (Math.abs(e - Math.round(e)) < 1e-4) close++;
      if (priceFor(u) !== Math.floor(e)) expect.fail(`u = ${u}: ${priceFor(u)} vs ${Math.floor(e)}`);
    }
    expect(close).toBeGreaterThan(20);
  });

  it("generateNexmarkBatch: the same events as one by one, with their timestamps in a column", () => {
    for (const config of [
      { seed: 3 },
      { seed: 3, outOfOrderGroupSize: 7 },
      { seed: 3, firstEventId: 123, personProportion: 2, auctionProportion: 5, bidProportion: 10 },
    ]) {
      for (const [n, start] of [
        [0, 0],
        [120, 0],
        [77, 49],
        [300, 1_000_003],
      ] as const) {
        const { values, timestamps } = generateNexmarkBatch(config, n, start);
        expect(values).toEqual(Array.from({ length: n }, (_, i) => nexmarkEvent(config, start + i)));
        expect([...timestamps]).toEqual(values.map((e) => e.timestamp));
      }
    }
  });

  it("rejects invalid configs and indexes", () => {
    const bad: NexmarkConfig[] = [
      { firstEventRate: 0 },
      { firstEventRate: Number.NaN },
      { personProportion: 0 },
      { bidProportion: 1.5 },
      { hotAuctionRatio: 0 },
      { outOfOrderGroupSize: 0 },
      { outOfOrderGroupSize: 953 * 2 },
      { seed: 0.5 },
      { numEvents: -1 },
    ];
    for (const config of bad) {
      expect(() => nexmarkEvent(config, 0)).toThrow(/Nexmark config/);
    }
    try {
      resolveNexmarkConfig({ avgBidByteSize: -1 });
      expect.unreachable();
    } catch (e) {
      expect(isRivuletError(e) && e.code === "INVALID_ARGUMENT").toBe(true);
    }
    expect(() => nexmarkEvent({}, -1)).toThrow(/index/);
    expect(() => nexmarkEvent({}, 1.5)).toThrow(/index/);
    expect(() => generateNexmark({}, -1)).toThrow(/index/);
  });
});

describe("nexmark wasm core", () => {
  function batch(config: NexmarkConfig, n: number, start: number, wasm: boolean): NexmarkBatch {
    setNexmarkWasmEnabled(wasm);
    try {
      return generateNexmarkBatch(config, n, start);
    } finally {
      setNexmarkWasmEnabled(true);
    }
  }

  /** Events `start .. start + n - 1` of both paths, event by event as JSON (so field order counts). */
  function expectSameEvents(config: NexmarkConfig, start: number, n: number): void {
    for (let at = start; at < start + n; at += 5000) {
      const fast = batch(config, 5000, at, true);
      const js = batch(config, 5000, at, false);
      expect(fast.values.length).toBe(5000);
      for (let i = 0; i < 5000; i++) {
        const a = `${fast.timestamps[i]} ${JSON.stringify(fast.values[i])}`;
        const b = `${js.timestamps[i]} ${JSON.stringify(js.values[i])}`;
        if (a !== b) expect(a).toBe(b);
      }
    }
  }

  it("is available here (Node, Chromium), so the comparisons below test it", () => {
    expect(nexmarkWasm()).toBeDefined();
  });

  const configs: NexmarkConfig[] = [
    { seed: 42 },
    { seed: -123_456_789_012 },
    {
      seed: 5,
      personProportion: 3,
      auctionProportion: 7,
      bidProportion: 13,
      hotAuctionRatio: 1,
      avgAuctionByteSize: 120,
    },
    { seed: 6, hotBiddersRatio: 1, avgBidByteSize: 0, numActivePeople: 3, numInFlightAuctions: 0 },
    {
      seed: 7,
      avgBidByteSize: 33,
      avgPersonByteSize: 60,
      avgAuctionByteSize: 0,
      personIdLead: 0,
      auctionIdLead: 0,
    },
    {
      seed: 8,
      avgBidByteSize: 4000,
      avgPersonByteSize: 5000,
      firstEventId: 2 ** 40 + 17,
      baseTime: -1e12,
      firstEventRate: 3,
    },
    // Many prices (two per auction): wasm's fast path differs from priceFor's by a few ulps.
    { seed: 12, personProportion: 1, auctionProportion: 10, bidProportion: 10 },
    // Ratios past 2^21, nextLong over (2^21, 2^32] and past 2^32.
    { seed: 9, hotAuctionRatio: 2 ** 30, hotSellersRatio: 3_000_000, hotBiddersRatio: 2 ** 31 - 1 },
    { seed: 10, firstEventId: 2 ** 30, numActivePeople: 10_000_000, numInFlightAuctions: 5_000_000 },
    {
      seed: 11,
      firstEventId: 2 ** 45,
      numActivePeople: 2 ** 44,
      numInFlightAuctions: 2 ** 40,
      hotAuctionRatio: 1,
    },
  ];
  for (const config of configs) {
    it(`makes the JS path's events exactly: ${JSON.stringify(config)}`, () => {
      expectSameEvents(config, 0, config.avgBidByteSize === 4000 ? 20_000 : 200_000);
      for (const start of [49, 1_000_003, 2 ** 33 - 5000]) expectSameEvents(config, start, 10_000);
    });
  }

  it("falls back for configs it does not support, with the same events", () => {
    // Bids' extra of half the pool or more is drawn afresh, which only the JS path does.
    const config = {
      seed: 3,
      avgBidByteSize: 600_000,
      personProportion: 1,
      auctionProportion: 1,
      bidProportion: 1,
    };
    expect(batch(config, 30, 0, true)).toEqual(batch(config, 30, 0, false));
    // Hot ratios past 2^31 - 1.
    const ratio = { seed: 4, hotBiddersRatio: 2 ** 31 };
    expect(batch(ratio, 3000, 0, true)).toEqual(batch(ratio, 3000, 0, false));
  });

  it("turns a chunk's chars into one string with or without TextDecoder", () => {
    const bytes = new Uint8Array(20_000).map((_, i) => 32 + ((i * 7919) % 95));
    const expected = Array.from(bytes.subarray(0, 19_999), (b) => String.fromCharCode(b)).join("");
    expect(asciiString(bytes, 19_999, true)).toBe(expected);
    expect(asciiString(bytes, 19_999, false)).toBe(expected);
  });

  it("the forced JS path matches the pinned stream too", () => {
    expect(batch(base, 3000, 0, false).values).toEqual(stream.slice(0, 3000));
  });
});
