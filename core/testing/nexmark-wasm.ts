/**
 * A WebAssembly core for the Nexmark generator's batch path (`fillInOrder` in `nexmark.ts`).
 *
 * For a chunk of consecutive in-order events it does, per event, what the JS code does: seed
 * mulberry32 from (seed, eventId), compute the timestamp and, for bids, every draw and every
 * number (auction, bidder, price, the channel's index, the `extra` string's offset and length in
 * the shared pool). It writes them to columns in its memory; JS then builds the objects from the
 * columns and the existing string tables. People and auctions (8% of events by default, and made
 * of per-character strings) are only flagged: JS makes them with the existing functions.
 *
 * Exactness: the wasm code repeats the JS arithmetic operation for operation: 32-bit integer
 * ops (i32.mul is Math.imul) and f64 add/sub/mul/div/floor/trunc/min/max, which WebAssembly and
 * JS both define as IEEE 754 binary64 with round-to-nearest; the two tables of powers of two are
 * copied from JS into wasm memory, and the constants are JS numbers written as their 8 bytes.
 * `nexmark.test.ts` compares both paths event by event.
 *
 * The module is assembled here from opcodes (no build step, no binary in git), compiled lazily on
 * first use, once; where WebAssembly is missing or may not compile bytes at runtime (e.g.
 * Cloudflare workerd), `nexmarkWasm()` returns undefined and the JS path runs instead.
 *
 * Runtime-agnostic: no Node or DOM APIs (`WebAssembly` is a global in Node, browsers, Deno, Bun).
 */

import { EXP2_TABLE, EXTRA_POOL_SIZE, LN2, POW2, SIX_LOG2_10 } from "./nexmark-random.js";

// ---------------------------------------------------------------------------------------------
// A tiny assembler: byte helpers and the opcodes used below.

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an int32. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f;
const F64 = 0x7c;
const VOID = 0x40; // empty block type

// Instructions (WebAssembly core spec, section 5.4). Each returns its bytes.
type Ins = number[];
const get = (i: number): Ins => [0x20, ...uleb(i)];
const set = (i: number): Ins => [0x21, ...uleb(i)];
const tee = (i: number): Ins => [0x22, ...uleb(i)];
const call = (f: number): Ins => [0x10, ...uleb(f)];
const i32c = (v: number): Ins => [0x41, ...sleb(v)];
function f64c(v: number): Ins {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [0x44, ...b];
}
/** Loads and stores: alignment log2 and a constant offset added to the address on the stack. */
const f64load = (offset: number): Ins => [0x2b, 3, ...uleb(offset)];
const f64store = (offset: number): Ins => [0x39, 3, ...uleb(offset)];
const i32store = (offset: number): Ins => [0x36, 2, ...uleb(offset)];
const loop = [0x03, VOID];
const if_ = [0x04, VOID];
const ifF64 = [0x04, F64];
const else_ = [0x05];
const end = [0x0b];
const brIf = (depth: number): Ins => [0x0d, ...uleb(depth)];
const ret = [0x0f];
const i32 = {
  eqz: [0x45],
  eq: [0x46],
  ltS: [0x48],
  geS: [0x4e],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  or: [0x72],
  xor: [0x73],
  shl: [0x74],
  shrU: [0x76],
  wrapI64: [0xa7],
  truncF64S: [0xaa],
};
const i64 = { shrU: [0x88], const32: [0x42, 32], truncF64U: [0xb1], reinterpretF64: [0xbd] };
const f64 = {
  le: [0x65],
  gt: [0x64],
  ne: [0x62],
  floor: [0x9c],
  trunc: [0x9d],
  add: [0xa0],
  sub: [0xa1],
  mul: [0xa2],
  div: [0xa3],
  min: [0xa4],
  max: [0xa5],
  convertI32U: [0xb8],
  reinterpretI64: [0xbf],
};
/** select(a, b, c): c ? a : b (for i32 and i64; V8 makes these a cmov, f64 a branch). */
const select = [0x1b];

/** A function: parameter and result types, extra locals (all one type per entry), body. */
interface Func {
  params: number[];
  results: number[];
  locals: number[];
  body: (number | Ins)[];
  export?: string;
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function str(s: string): number[] {
  return vec([...s].map((c) => [c.charCodeAt(0)]));
}

/** A module with one memory (`pages` of 64 KiB, exported as "mem") and the functions. */
function assemble(funcs: Func[], pages: number): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const exports: number[][] = [[...str("mem"), 0x02, 0]];
  funcs.forEach((f, i) => {
    if (f.export !== undefined) exports.push([...str(f.export), 0x00, ...uleb(i)]);
  });
  const bodies = funcs.map((f) => {
    const code = [...vec(f.locals.map((t) => [1, t])), ...f.body.flat(), ...end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vec(types)), // one type per function, function i has type i
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(pages)]])), // memory: min pages, no max
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Memory layout: the two tables, then the columns of one chunk of events.

/** Events per call of `fill`. */
export const CHUNK = 4096;
const POW2_AT = 0; // 21 f64: 2^0 .. 2^20
const EXP2_AT = 256; // 128 f64: 2^(j/128)
const COLS_AT = 2048;
const TS_AT = COLS_AT; // f64 timestamp
const AUCTION_AT = TS_AT + CHUNK * 8; // f64 auction id (bids)
const BIDDER_AT = AUCTION_AT + CHUNK * 8; // f64 bidder id (bids)
const PRICE_AT = BIDDER_AT + CHUNK * 8; // f64 price (bids)
const KIND_AT = PRICE_AT + CHUNK * 8; // i32: 0 bid, 1 person, 2 auction
const CHANNEL_AT = KIND_AT + CHUNK * 4; // i32: i >= 0 channel i, -1 - i hot channel i (bids)
const EXTRA_OFF_AT = CHANNEL_AT + CHUNK * 4; // i32: extra's offset in the pool (bids)
const EXTRA_LEN_AT = EXTRA_OFF_AT + CHUNK * 4; // i32: extra's length, 0 for "" (bids)
const END_AT = EXTRA_LEN_AT + CHUNK * 4;
const PAGES = Math.ceil(END_AT / 65536);

const INV_TWO_POW_32 = 1 / 4294967296;

// Function indexes.
const POW10X6 = 0;
const PRICE = 1;

// `fill`'s locals (after its parameters, see `P`).
const L = {
  i: 22,
  p4: 23,
  p8: 24,
  h: 25,
  s: 26,
  t: 27,
  last: 28,
  min: 29,
  v: 30,
  n: 31,
  hi: 32,
  flag: 33,
  s0: 34,
  u: 35,
};
const FILL_LOCALS = [I32, I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, I32, I32, I32];

// The PRNG, written out inline wherever `fill` draws (V8 does not inline wasm calls by default, and a
// call costs about as much as a draw), with the state in the local `L.s`, as in nexmark-random.ts.

/** fmix32 of the i32 on the stack: murmur3's finaliser, as `fmix32`; uses the local `L.h`. */
const fmix32 = (): Ins[] => [
  ...[set(L.h), get(L.h), get(L.h), i32c(16), i32.shrU, i32.xor, i32c(0x85ebca6b), i32.mul, set(L.h)],
  ...[get(L.h), get(L.h), i32c(13), i32.shrU, i32.xor, i32c(0xc2b2ae35), i32.mul, set(L.h)],
  ...[get(L.h), get(L.h), i32c(16), i32.shrU, i32.xor],
];

/** nextU32's 32 bits (mulberry32) as an i32 on the stack; uses the local `L.t`. */
const next = (): Ins[] => [
  ...[get(L.s), i32c(0x6d2b79f5), i32.add, set(L.s)],
  // t = imul(s ^ (s >>> 15), 1 | s)
  ...[get(L.s), get(L.s), i32c(15), i32.shrU, i32.xor, get(L.s), i32c(1), i32.or, i32.mul, set(L.t)],
  // t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t
  ...[get(L.t), get(L.t), get(L.t), i32c(7), i32.shrU, i32.xor, get(L.t), i32c(61), i32.or, i32.mul, i32.add],
  ...[get(L.t), i32.xor, set(L.t)],
  // t ^ (t >>> 14)
  ...[get(L.t), get(L.t), i32c(14), i32.shrU, i32.xor],
];

/** floor(u * n * 2^-32) for u, n on the stack: the rest of nextInt. */
const scaleFloor: Ins[] = [f64.mul, f64c(INV_TWO_POW_32), f64.mul, f64.floor];

/** nextInt(n) = floor(u32 * n * 2^-32), `n` the instructions that push n (an f64). */
const nextInt = (n: Ins[]): Ins[] => [
  ...next(),
  f64.convertI32U,
  ...n,
  f64.mul,
  f64c(INV_TWO_POW_32),
  f64.mul,
  f64.floor,
];

/** nextLong(n); uses the locals `L.n` and `L.hi`. */
const nextLong = (n: Ins[]): Ins[] => [
  ...[...n, tee(L.n), f64c(4294967296), f64.le, ifF64, ...nextInt([get(L.n)]), else_],
  ...[...next(), i32c(11), i32.shrU, f64.convertI32U, set(L.hi)],
  // floor(((hi * 2^32 + lo) / 2^53) * n)
  ...[get(L.hi), f64c(4294967296), f64.mul, ...next(), f64.convertI32U, f64.add],
  ...[f64c(9007199254740992), f64.div, get(L.n), f64.mul, f64.floor, end],
];

/**
 * `nextInt(ratio) > 0 ? hot : drawn` for `nextBid`'s hot auction and bidder, without a branch (the
 * coin is a fair one, a branch on it is mispredicted half the time): `drawn` is always computed,
 * and the PRNG state it advanced is thrown away when the event takes `hot`. Leaves an f64; uses the
 * locals `L.flag` and `L.s0`.
 */
const hotOrDrawn = (ratio: Ins[], hot: Ins[], drawn: Ins[]): Ins[] => [
  ...[...nextInt(ratio), f64c(0), f64.gt, set(L.flag), get(L.s), set(L.s0)],
  ...[...hot, i64.reinterpretF64, ...drawn, i64.reinterpretF64, get(L.flag), select, f64.reinterpretI64],
  // s = flag ? s0 : s (as if the non-hot draws never happened)
  ...[get(L.s0), get(L.s), get(L.flag), select, set(L.s)],
];

/** The inverse factorials of pow10x6's series, outermost first (as written in nexmark-random.ts). */
const POW10X6_COEFFS = [
  1,
  1,
  1 / 2,
  1 / 6,
  1 / 24,
  1 / 120,
  1 / 720,
  1 / 5040,
  1 / 40320,
  1 / 362880,
  1 / 3628800,
  1 / 39916800,
  1 / 479001600,
];

/** pow10x6(u); locals: 1 y, 2 n, 3 t, 4 acc. */
const pow10x6: Func = {
  params: [F64],
  results: [F64],
  locals: [F64, F64, F64, F64],
  body: [
    ...[get(0), f64c(SIX_LOG2_10), f64.mul, tee(1), f64.floor, set(2)],
    ...[get(1), get(2), f64.sub, f64c(LN2), f64.mul, set(3)],
    // Horner from the inside out: acc = t / 13!, then acc = c + t * acc.
    ...[get(3), f64c(6227020800), f64.div, set(4)],
    ...[...POW10X6_COEFFS].reverse().flatMap((c) => [f64c(c), get(3), get(4), f64.mul, f64.add, set(4)]),
    ...[get(4), get(2), i32.truncF64S, i32c(3), i32.shl, f64load(POW2_AT), f64.mul],
  ],
};

/** priceFor(u); locals: 1 y, 2 n, 3 f, 4 j, 5 r, 6 x, 7 price, 8 margin. */
const price: Func = {
  params: [F64],
  results: [F64],
  locals: [F64, F64, F64, F64, F64, F64, F64, F64],
  body: [
    ...[get(0), f64c(SIX_LOG2_10), f64.mul, tee(1), f64.floor, set(2)],
    ...[get(1), get(2), f64.sub, tee(3), f64c(128), f64.mul, f64.floor, set(4)],
    ...[get(3), get(4), f64c(128), f64.div, f64.sub, f64c(LN2), f64.mul, set(5)],
    // e = 1 + r * (1 + r * (1/2 + r * (1/6 + r / 24)))
    ...[f64c(1), get(5), f64c(1), get(5), f64c(1 / 2), get(5), f64c(1 / 6), get(5), f64c(24), f64.div],
    ...[f64.add, f64.mul, f64.add, f64.mul, f64.add, f64.mul, f64.add],
    // x = e * EXP2_TABLE[j] * POW2[n] * 100 + 0.5
    ...[get(4), i32.truncF64S, i32c(3), i32.shl, f64load(EXP2_AT), f64.mul],
    ...[get(2), i32.truncF64S, i32c(3), i32.shl, f64load(POW2_AT), f64.mul],
    ...[f64c(100), f64.mul, f64c(0.5), f64.add, tee(6), f64.floor, set(7)],
    ...[get(6), f64c(1e-12), f64.mul, set(8)],
    // if (x - price > margin && price + 1 - x > margin) return price
    ...[get(6), get(7), f64.sub, get(8), f64.gt],
    ...[if_, get(7), f64c(1), f64.add, get(6), f64.sub, get(8), f64.gt, if_, get(7), ret, end, end],
    ...[get(0), call(POW10X6), f64c(100), f64.mul, f64c(0.5), f64.add, f64.floor],
  ],
};

// `fill`'s parameters, in order (see `FillArgs`), then its locals.
const P = {
  count: 0,
  eventId: 1,
  eventNumber: 2,
  epoch: 3,
  offset: 4,
  seedHash: 5,
  pp: 6,
  ppa: 7, // personProportion + auctionProportion
  total: 8,
  ppF: 9,
  apF: 10,
  baseTime: 11,
  delayUs: 12,
  hotAuctionRatio: 13,
  hotBiddersRatio: 14,
  numInFlightAuctions: 15,
  auctionIdLead: 16,
  numActivePeople: 17,
  personIdLead: 18,
  extraDraw: 19,
  extraBase: 20,
  extraRange: 21,
};
const FILL_PARAMS = [
  I32,
  F64,
  F64,
  F64,
  I32,
  I32,
  I32,
  I32,
  I32,
  F64,
  F64,
  F64,
  F64,
  F64,
  F64,
  F64,
  F64,
  F64,
  F64,
  I32,
  F64,
  F64,
];

/**
 * fill(...): `count` consecutive in-order events into the columns (`fillInOrder`'s loop). Per bid,
 * the draws in `nextBid`'s order: hot auction?, [auction], hot bidder?, [bidder], price, hot
 * channel?, channel, [extra size], [extra offset].
 */
const fill: Func = {
  params: FILL_PARAMS,
  results: [],
  locals: FILL_LOCALS,
  export: "fill",
  body: [
    ...[get(P.count), i32.eqz, if_, ret, end],
    loop,
    // p4 = i * 4, p8 = i * 8: addresses within the i32 and f64 columns
    ...[get(L.i), i32c(2), i32.shl, set(L.p4), get(L.i), i32c(3), i32.shl, set(L.p8)],
    // seedRandomHashed(seedHash, eventId): the low and high 32-bit halves of eventId
    ...[
      get(P.seedHash),
      get(P.eventId),
      ...i64.truncF64U,
      ...i32.wrapI64,
      i32c(0xcc9e2d51),
      i32.mul,
      i32.xor,
    ],
    ...fmix32(),
    ...[
      get(P.eventId),
      ...i64.truncF64U,
      ...i64.const32,
      ...i64.shrU,
      ...i32.wrapI64,
      i32c(0x1b873593),
      i32.mul,
    ],
    ...[i32.xor, ...fmix32(), set(L.s)],
    // timestamp = baseTime + floor(floor(eventNumber * interEventDelayUs) / 1000)
    ...[get(L.p8), get(P.baseTime), get(P.eventNumber), get(P.delayUs), f64.mul, f64.floor, f64c(1000)],
    ...[f64.div, f64.floor, f64.add, f64store(TS_AT)],
    // kind: offset < pp person, < pp + ap auction, else bid
    ...[get(P.offset), get(P.ppa), i32.ltS, if_],
    ...[get(L.p4), i32c(1), i32c(2), get(P.offset), get(P.pp), i32.ltS, select, i32store(KIND_AT)],
    else_,
    ...[get(L.p4), i32c(0), i32store(KIND_AT)],
    // auction: lastAuction = epoch * ap + ap - 1
    ...[get(P.epoch), get(P.apF), f64.mul, get(P.apF), f64.add, f64c(1), f64.sub, set(L.last)],
    ...hotOrDrawn(
      [get(P.hotAuctionRatio)],
      // hot: trunc(lastAuction / 100) * 100
      [get(L.last), f64c(100), f64.div, f64.trunc, f64c(100), f64.mul],
      // minAuction + nextLong(maxAuction - minAuction + 1 + auctionIdLead)
      [
        ...[get(L.last), get(P.numInFlightAuctions), f64.sub, f64c(0), f64.max, tee(L.min)],
        ...nextLong([get(L.last), get(L.min), f64.sub, f64c(1), f64.add, get(P.auctionIdLead), f64.add]),
        f64.add,
      ],
    ),
    ...[f64c(1000), f64.add, set(L.v), get(L.p8), get(L.v), f64store(AUCTION_AT)],
    // bidder: lastPerson = epoch * pp + pp - 1
    ...[get(P.epoch), get(P.ppF), f64.mul, get(P.ppF), f64.add, f64c(1), f64.sub, set(L.last)],
    ...hotOrDrawn(
      [get(P.hotBiddersRatio)],
      // hot: min(trunc(lastPerson / 100) * 100 + 1, lastPerson + personIdLead)
      [
        ...[get(L.last), f64c(100), f64.div, f64.trunc, f64c(100), f64.mul, f64c(1), f64.add],
        ...[get(L.last), get(P.personIdLead), f64.add, f64.min],
      ],
      // numPeople - active + nextLong(active + personIdLead), active = min(numPeople, numActivePeople)
      [
        ...[get(L.last), f64c(1), f64.add, tee(L.v), get(L.v), get(P.numActivePeople), f64.min, tee(L.min)],
        ...[f64.sub, ...nextLong([get(L.min), get(P.personIdLead), f64.add]), f64.add],
      ],
    ),
    ...[f64c(1000), f64.add, set(L.v), get(L.p8), get(L.v), f64store(BIDDER_AT)],
    // price = priceFor(nextDouble())
    ...[
      get(L.p8),
      ...next(),
      f64.convertI32U,
      f64c(INV_TWO_POW_32),
      f64.mul,
      call(PRICE),
      f64store(PRICE_AT),
    ],
    // channel: nextInt(2) > 0 ? hot channel nextInt(4) (stored as -1 - i) : nextInt(10000). Both
    // from the same draw u, chosen without a branch.
    ...[...nextInt([f64c(2)]), f64c(0), f64.gt, set(L.flag), ...next(), set(L.u)],
    ...[get(L.p4), i32c(-1), get(L.u), f64.convertI32U, f64c(4), ...scaleFloor, i32.truncF64S, i32.sub],
    ...[get(L.u), f64.convertI32U, f64c(10000), ...scaleFloor, i32.truncF64S, get(L.flag), select],
    i32store(CHANNEL_AT),
    // extra: nextExtra(32, avgBidByteSize): length extraBase + nextInt(extraRange), then the offset
    ...[get(L.p4), i32c(0), i32store(EXTRA_LEN_AT), get(P.extraDraw), if_],
    ...[get(P.extraRange), f64c(0), f64.ne, if_, ...nextInt([get(P.extraRange)])],
    ...[get(P.extraBase), f64.add, set(L.v), else_, get(P.extraBase), set(L.v), end],
    ...[get(L.v), f64c(0), f64.gt, if_],
    ...[get(L.p4), get(L.v), i32.truncF64S, i32store(EXTRA_LEN_AT)],
    ...[
      get(L.p4),
      ...nextInt([f64c(EXTRA_POOL_SIZE), get(L.v), f64.sub]),
      i32.truncF64S,
      i32store(EXTRA_OFF_AT),
    ],
    ...[end, end],
    end, // bid
    // next event: eventId++, eventNumber++, offset++ (wrapping into the next epoch)
    ...[
      get(P.eventId),
      f64c(1),
      f64.add,
      set(P.eventId),
      get(P.eventNumber),
      f64c(1),
      f64.add,
      set(P.eventNumber),
    ],
    ...[get(P.offset), i32c(1), i32.add, tee(P.offset), get(P.total), i32.eq, if_],
    ...[i32c(0), set(P.offset), get(P.epoch), f64c(1), f64.add, set(P.epoch), end],
    ...[get(L.i), i32c(1), i32.add, tee(L.i), get(P.count), i32.ltS, brIf(0)],
    end, // loop
  ],
};

/** The columns of the last `fill`, as views over the module's memory. */
export interface NexmarkWasm {
  fill(
    count: number,
    eventId: number,
    eventNumber: number,
    epoch: number,
    offset: number,
    seedHash: number,
    pp: number,
    ppa: number,
    total: number,
    ppF: number,
    apF: number,
    baseTime: number,
    delayUs: number,
    hotAuctionRatio: number,
    hotBiddersRatio: number,
    numInFlightAuctions: number,
    auctionIdLead: number,
    numActivePeople: number,
    personIdLead: number,
    extraDraw: number,
    extraBase: number,
    extraRange: number,
  ): void;
  timestamp: Float64Array;
  auction: Float64Array;
  bidder: Float64Array;
  price: Float64Array;
  kind: Int32Array;
  channel: Int32Array;
  extraOffset: Int32Array;
  extraLength: Int32Array;
}

/** undefined: not tried yet; null: unavailable (fall back to JS). */
let instance: NexmarkWasm | null | undefined;
let enabled = true;

/** For tests: turn the wasm path off (the JS path runs) or back on. */
export function setNexmarkWasmEnabled(on: boolean): void {
  enabled = on;
}

/** The compiled core, or undefined where WebAssembly is unavailable, refuses to compile, or is turned off. */
export function nexmarkWasm(): NexmarkWasm | undefined {
  if (!enabled) return undefined;
  if (instance === undefined) instance = instantiate();
  return instance ?? undefined;
}

/** The part of the `WebAssembly` global used here (core's type libraries do not declare it). */
interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

function instantiate(): NexmarkWasm | null {
  try {
    const wa = (globalThis as { WebAssembly?: WasmGlobal }).WebAssembly;
    if (wa === undefined) return null;
    const bytes = assemble([pow10x6, price, fill], PAGES);
    const exports = new wa.Instance(new wa.Module(bytes)).exports;
    const buffer = (exports.mem as { buffer: ArrayBuffer }).buffer;
    new Float64Array(buffer, POW2_AT, POW2.length).set(POW2);
    new Float64Array(buffer, EXP2_AT, EXP2_TABLE.length).set(EXP2_TABLE);
    return {
      fill: exports.fill as NexmarkWasm["fill"],
      timestamp: new Float64Array(buffer, TS_AT, CHUNK),
      auction: new Float64Array(buffer, AUCTION_AT, CHUNK),
      bidder: new Float64Array(buffer, BIDDER_AT, CHUNK),
      price: new Float64Array(buffer, PRICE_AT, CHUNK),
      kind: new Int32Array(buffer, KIND_AT, CHUNK),
      channel: new Int32Array(buffer, CHANNEL_AT, CHUNK),
      extraOffset: new Int32Array(buffer, EXTRA_OFF_AT, CHUNK),
      extraLength: new Int32Array(buffer, EXTRA_LEN_AT, CHUNK),
    };
  } catch {
    return null;
  }
}
