/**
 * A WebAssembly core for the Nexmark generator's batch path (`fillInOrder` in `nexmark.ts`).
 *
 * For a chunk of consecutive in-order events it does, per event, what `eventAt` does: seed
 * mulberry32 from (seed, eventId), compute the timestamp, make every draw of `nextBid`,
 * `nextPerson` or `nextAuction` in their order and compute every number (ids, prices, expiry,
 * category, channel and name indexes, the `extra` string's offset and length in the shared pool).
 * It writes them to columns in its memory, and the chars of people's emailAddress and creditCard
 * and auctions' itemName and description to a byte area; JS then makes the objects from the
 * columns, the existing string tables and one string per chunk that the strings are sliced from.
 *
 * Exactness: the wasm code repeats the JS arithmetic: 32-bit integer ops (i32.mul is Math.imul)
 * and f64 add/sub/mul/div/floor/trunc/min/max, which WebAssembly and JS both define as IEEE 754
 * binary64 with round-to-nearest; constants are JS numbers written as their 8 bytes, tables are
 * filled from JS. Where it computes differently it says why the result is the same: bounded draws
 * as integer multiply-shifts (`nextSmall`), the hot-or-not choices without branches
 * (`hotOrDrawn`), the price's fast value (`nextPrice`). `nexmark.test.ts` compares both paths
 * event by event; `fillWithWasm` in nexmark.ts uses this only for configs it covers exactly.
 *
 * The module (~6.7 KB) is assembled here from opcodes (no build step, no binary in git), compiled
 * synchronously on first use, once (it does in Node and in Chromium's page, where core's suite runs
 * too); where WebAssembly is missing or may not compile bytes at runtime (e.g. Cloudflare workerd),
 * or the compile throws for any other reason, `nexmarkWasm()` returns undefined and the JS path
 * runs instead.
 *
 * Runtime-agnostic: no Node or DOM APIs (`WebAssembly` is a global in Node, browsers, Deno, Bun).
 */

import { PERSON_TABLES } from "./nexmark-model.js";
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
const I64 = 0x7e;
const VOID = 0x40; // empty block type

// Instructions (WebAssembly core spec, section 5.4). Each returns its bytes.
type Ins = number[];
/** A sequence of instructions (and bare opcode bytes); flattened when assembled. */
type Code = (number | Ins)[];
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
const i32load8 = (offset: number): Ins => [0x2d, 0, ...uleb(offset)]; // i32.load8_u
const block = [0x02, VOID];
const loop = [0x03, VOID];
const if_ = [0x04, VOID];
const ifF64 = [0x04, F64];
const else_ = [0x05];
const end = [0x0b];
const br = (depth: number): Ins => [0x0c, ...uleb(depth)];
const brIf = (depth: number): Ins => [0x0d, ...uleb(depth)];
/** memory.copy(dest, src, n) (bulk memory). */
const memoryCopy = [0xfc, 10, 0, 0];
const ret = [0x0f];
const i32 = {
  eqz: [0x45],
  eq: [0x46],
  ltS: [0x48],
  ltU: [0x49],
  leU: [0x4d],
  geU: [0x4f],
  geS: [0x4e],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  or: [0x72],
  xor: [0x73],
  shl: [0x74],
  shrU: [0x76],
  ne: [0x47],
  divU: [0x6e],
  remU: [0x70],
  wrapI64: [0xa7],
  truncF64S: [0xaa],
};
const i64 = {
  add: [0x7c],
  shrU: [0x88],
  mul: [0x7e],
  const32: [0x42, 32],
  extendI32U: [0xad],
  truncF64U: [0xb1],
  reinterpretF64: [0xbd],
};
const i64c = (v: number): Ins => [0x42, ...sleb(v)]; // v < 2^31
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
  body: Code;
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
// Memory layout: the tables, then the columns of one chunk of events, then its strings' chars.

/** Events per call of `fill`. */
export const CHUNK = 4096;
const POW2_AT = 0; // 21 f64: 2^0 .. 2^20
const LENGTHS_AT = 1536; // u8 string lengths: first names +0, last names +16, cities +32, states +48
const CHAR_TABLE_AT = 1600; // 338 u8: nextString's char for each k = nextInt(13 * 26)
const PRICE_TABLE_AT = 2048; // PRICE_TABLE_SIZE f64: 2^(j/128) * 2^n * 100 at n * 128 + j (see nextPrice)
const COLS_AT = PRICE_TABLE_AT + 8 * 2560;
// f64 columns
const TS_AT = COLS_AT; // timestamp
const ID_AT = TS_AT + CHUNK * 8; // bid: auction; person, auction: id
const PERSON_AT = ID_AT + CHUNK * 8; // bid: bidder; auction: seller
const PRICE_AT = PERSON_AT + CHUNK * 8; // bid: price; auction: initialBid
const RESERVE_AT = PRICE_AT + CHUNK * 8; // auction: reserve
const EXPIRES_AT = RESERVE_AT + CHUNK * 8; // auction: expires
// i32 columns
const KIND_AT = EXPIRES_AT + CHUNK * 8; // 0 bid, 1 person, 2 auction
const CHOICE_AT = KIND_AT + CHUNK * 4; // bid: channel i >= 0, hot channel -1 - i; auction: category;
// person: first name | last name << 8 | city << 16 | state << 24 (indexes into the model's tables)
const EXTRA_OFF_AT = CHOICE_AT + CHUNK * 4; // extra's offset in the pool
const EXTRA_LEN_AT = EXTRA_OFF_AT + CHUNK * 4; // extra's length, 0 for ""
const STR_AT = EXTRA_LEN_AT + CHUNK * 4; // person, auction: where its chars start (from CHARS_AT)
const LEN1_AT = STR_AT + CHUNK * 4; // person: emailAddress's length; auction: itemName's
const LEN2_AT = LEN1_AT + CHUNK * 4; // auction: description's length (person: creditCard, 19)
/**
 * One byte per char: a person's emailAddress and creditCard, an auction's itemName and
 * description, one after the other (at most 19 + 99 chars per event).
 */
const CHARS_AT = LEN2_AT + CHUNK * 4;
const END_AT = CHARS_AT + CHUNK * 118;
const PAGES = Math.ceil(END_AT / 65536);
/** How many first names, last names, cities and states `nextPerson` picks from (16 at most each). */
const NAME_COUNTS = PERSON_TABLES.map((table) => table.length) as [number, number, number, number];

const INV_TWO_POW_32 = 1 / 4294967296;

// Function indexes.
const POW10X6 = 0;

// `fill`'s locals (after its parameters, see `P`).
/** `fill`'s parameters, in order, and their types (see `NexmarkWasm.fill`). */
const PARAM_TYPES = {
  count: I32,
  eventId: F64,
  eventNumber: F64,
  epoch: F64,
  offset: I32,
  seedHash: I32,
  pp: I32,
  ppa: I32, // personProportion + auctionProportion
  total: I32,
  ppF: F64,
  apF: F64,
  baseTime: F64,
  delayUs: F64,
  hotAuctionRatio: I32,
  hotBiddersRatio: I32,
  hotSellersRatio: I32,
  numInFlightAuctions: F64,
  auctionIdLead: F64,
  numActivePeople: F64,
  personIdLead: F64,
  numEventsForAuctions: F64,
  avgPersonByteSize: F64,
  avgAuctionByteSize: F64,
  avgBidByteSize: F64,
};
const P = Object.fromEntries(Object.keys(PARAM_TYPES).map((name, k) => [name, k])) as Record<
  keyof typeof PARAM_TYPES,
  number
>;
const FILL_PARAMS = Object.values(PARAM_TYPES);

/** `fill`'s locals, numbered after its parameters (`P`): the i32 ones, then the f64 ones. */
const I32_LOCALS = [
  "i",
  "p4",
  "p8",
  "h",
  "s",
  "t",
  "flag",
  "s0",
  "u",
  "pos",
  "len",
  "c",
  "start",
  "end",
  "size",
] as const;
const F64_LOCALS = [
  "last",
  "min",
  "v",
  "n",
  "hi",
  "delta",
  "ts",
  "pu",
  "py",
  "pn",
  "pr",
  "px",
  "price",
  "margin",
] as const;
type LocalName = (typeof I32_LOCALS)[number] | (typeof F64_LOCALS)[number] | "id";
const L = Object.fromEntries(
  [...I32_LOCALS, ...F64_LOCALS, "id"].map((name, k) => [name, FILL_PARAMS.length + k]),
) as Record<LocalName, number>;
const FILL_LOCALS = [...I32_LOCALS.map(() => I32), ...F64_LOCALS.map(() => F64), I64];

// The PRNG, written out inline wherever `fill` draws (V8 does not inline wasm calls by default, and a
// call costs about as much as a draw), with the state in the local `L.s`, as in nexmark-random.ts.

/** fmix32 of the i32 on the stack: murmur3's finaliser, as `fmix32`; uses the local `L.h`. */
const fmix32 = (): Code => [
  ...[set(L.h), get(L.h), get(L.h), i32c(16), i32.shrU, i32.xor, i32c(0x85ebca6b), i32.mul, set(L.h)],
  ...[get(L.h), get(L.h), i32c(13), i32.shrU, i32.xor, i32c(0xc2b2ae35), i32.mul, set(L.h)],
  ...[get(L.h), get(L.h), i32c(16), i32.shrU, i32.xor],
];

/** nextU32's 32 bits (mulberry32) as an i32 on the stack; uses the local `L.t`. */
const next = (): Code => [
  ...[get(L.s), i32c(0x6d2b79f5), i32.add, set(L.s)],
  // t = imul(s ^ (s >>> 15), 1 | s)
  ...[get(L.s), get(L.s), i32c(15), i32.shrU, i32.xor, get(L.s), i32c(1), i32.or, i32.mul, set(L.t)],
  // t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t
  ...[get(L.t), get(L.t), get(L.t), i32c(7), i32.shrU, i32.xor, get(L.t), i32c(61), i32.or, i32.mul, i32.add],
  ...[get(L.t), i32.xor, set(L.t)],
  // t ^ (t >>> 14)
  ...[get(L.t), get(L.t), i32c(14), i32.shrU, i32.xor],
];

/** nextInt(n) = floor(u32 * n * 2^-32), `n` the instructions that push n (an f64). */
const nextInt = (n: Code): Code => [
  ...next(),
  f64.convertI32U,
  ...n,
  f64.mul,
  f64c(INV_TWO_POW_32),
  f64.mul,
  f64.floor,
];

/**
 * nextInt(n) as an i32 for an i32 1 <= n <= 2^21 (pushed by `n`): then u * n < 2^53, so the f64
 * floor(u * n * 2^-32) is exactly the integer (u * n) >>> 32, which needs no conversions.
 */
const nextSmall = (n: Code): Code => [
  ...[
    ...next(),
    ...i64.extendI32U,
    ...n,
    ...i64.extendI32U,
    ...i64.mul,
    ...i64.const32,
    ...i64.shrU,
    ...i32.wrapI64,
  ],
];

/** nextLong(n); uses the locals `L.n` and `L.hi`. */
const nextLong = (n: Code): Code => [
  ...[
    ...n,
    tee(L.n),
    f64c(2 ** 21),
    f64.le,
    ifF64,
    ...nextSmall([get(L.n), i32.truncF64S]),
    f64.convertI32U,
    else_,
  ],
  ...[get(L.n), f64c(4294967296), f64.le, ifF64, ...nextInt([get(L.n)]), else_],
  ...[...next(), i32c(11), i32.shrU, f64.convertI32U, set(L.hi)],
  // floor(((hi * 2^32 + lo) / 2^53) * n)
  ...[get(L.hi), f64c(4294967296), f64.mul, ...next(), f64.convertI32U, f64.add],
  ...[f64c(9007199254740992), f64.div, get(L.n), f64.mul, f64.floor, end, end],
];

/**
 * `nextInt(ratio) > 0 ? hot : drawn` for `nextBid`'s hot auction and bidder, without a branch (the
 * coin is a fair one, a branch on it is mispredicted half the time): `drawn` is always computed,
 * and the PRNG state it advanced is thrown away when the event takes `hot`. Leaves an f64; uses the
 * locals `L.flag` and `L.s0`.
 */
const hotOrDrawn = (ratio: Code, hot: Code, drawn: Code): Code => [
  // nextInt(ratio) > 0 is u * ratio >= 2^32 (exact for any ratio < 2^32): (u * ratio) >>> 32 !== 0
  ...[...nextSmall(ratio), set(L.flag), get(L.s), set(L.s0)],
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

/** Entries of PRICE_TABLE: floor(SIX_LOG2_10 * 128) + 1 (u < 1). */
const PRICE_TABLE_SIZE = Math.floor(SIX_LOG2_10 * 128) + 1;

/**
 * nextPrice() = priceFor(nextDouble()): floor(pow10x6(u) * 100 + 0.5), written out where `fill`
 * draws a price; leaves it (f64); uses the locals `L.pu` .. `L.margin`.
 *
 * The fast value is `priceFor`'s, 2^n * 2^(j/128) * e^r * 100 + 0.5, computed with fewer
 * operations: i = n * 128 + j = floor(y * 128) (y * 128 is exact), r = (y * 128 - i) * (ln 2 / 128)
 * (the same r bit for bit), r * (1/24) for r / 24 and PRICE_TABLE[i] = 2^(j/128) * 2^n * 100 in one
 * multiplication. That moves the fast value by a few ulps (~1e-15 relative), far inside the
 * PRICE_MARGIN (1e-12) that decides when it is trusted; otherwise pow10x6 decides, as in JS. So the
 * price is the same whenever priceFor's reasoning holds (the tests compare both paths).
 */
const nextPrice = (): Code => [
  ...[...next(), f64.convertI32U, f64c(INV_TWO_POW_32), f64.mul, tee(L.pu)],
  ...[f64c(SIX_LOG2_10), f64.mul, f64c(128), f64.mul, tee(L.py), f64.floor, set(L.pn)],
  ...[get(L.py), get(L.pn), f64.sub, f64c(LN2 / 128), f64.mul, set(L.pr)],
  // e = 1 + r * (1 + r * (1/2 + r * (1/6 + r * (1/24))))
  ...[f64c(1), get(L.pr), f64c(1), get(L.pr), f64c(1 / 2), get(L.pr), f64c(1 / 6), get(L.pr), f64c(1 / 24)],
  ...[f64.mul, f64.add, f64.mul, f64.add, f64.mul, f64.add, f64.mul, f64.add],
  // x = e * PRICE_TABLE[i] + 0.5
  ...[get(L.pn), i32.truncF64S, i32c(3), i32.shl, f64load(PRICE_TABLE_AT), f64.mul, f64c(0.5), f64.add],
  ...[tee(L.px), f64.floor, set(L.price), get(L.px), f64c(1e-12), f64.mul, set(L.margin)],
  // x - price > margin && price + 1 - x > margin ? price : floor(pow10x6(u) * 100 + 0.5)
  ...[get(L.px), get(L.price), f64.sub, get(L.margin), f64.gt],
  ...[get(L.price), f64c(1), f64.add, get(L.px), f64.sub, get(L.margin), f64.gt, i32.and],
  ...[
    ifF64,
    get(L.price),
    else_,
    get(L.pu),
    call(POW10X6),
    f64c(100),
    f64.mul,
    f64c(0.5),
    f64.add,
    f64.floor,
    end,
  ],
];

const store8 = (offset: number): Ins => [0x3a, 0, ...uleb(offset)];

/**
 * nextString(maxLength) (`special` a space, then trimmed) written at `L.pos`, which ends up past its
 * last char. One draw per char, as in nexmark-random.ts: k = nextInt(13 * 26) picks the char
 * CHAR_TABLE[k] (a space for k < 26, else "a" + k % 26).
 */
const nextStringAt = (maxLength: number): Code => [
  // len = 3 + nextInt(maxLength - 3); end = pos + len
  ...[...nextSmall([i32c(maxLength - 3)]), i32c(3), i32.add, get(L.pos), tee(L.start), i32.add, set(L.end)],
  loop,
  ...[get(L.pos), ...nextSmall([i32c(13 * 26)]), i32load8(CHAR_TABLE_AT), store8(0)],
  ...[get(L.pos), i32c(1), i32.add, tee(L.pos), get(L.end), i32.ltU, brIf(0)],
  end,
  // trim: drop trailing spaces, then leading ones (moving the rest down, rarely needed)
  ...[block, loop, get(L.pos), get(L.start), i32.leU, brIf(1)],
  ...[get(L.pos), i32c(1), i32.sub, i32load8(0), i32c(32), i32.ne, brIf(1)],
  ...[get(L.pos), i32c(1), i32.sub, set(L.pos), br(0), end, end],
  ...[get(L.start), set(L.end), block, loop, get(L.end), get(L.pos), i32.geU, brIf(1)],
  ...[get(L.end), i32load8(0), i32c(32), i32.ne, brIf(1)],
  ...[get(L.end), i32c(1), i32.add, set(L.end), br(0), end, end],
  ...[get(L.end), get(L.start), i32.ne, if_],
  ...[get(L.start), get(L.end), get(L.pos), get(L.end), i32.sub, memoryCopy],
  ...[get(L.pos), get(L.end), get(L.start), i32.sub, i32.sub, set(L.pos), end],
];

/** Beam's nextCreditCard: four nextInt(10000), each as 4 digits, joined by spaces (19 chars at `L.pos`). */
const creditCardAt = (): Code =>
  [0, 1, 2, 3].flatMap((g) => [
    ...[...nextSmall([i32c(10000)]), set(L.c)],
    ...[get(L.pos), get(L.c), i32c(1000), i32.divU, i32c(48), i32.add, store8(0)],
    ...[get(L.pos), get(L.c), i32c(100), i32.divU, i32c(10), i32.remU, i32c(48), i32.add, store8(1)],
    ...[get(L.pos), get(L.c), i32c(10), i32.divU, i32c(10), i32.remU, i32c(48), i32.add, store8(2)],
    ...[get(L.pos), get(L.c), i32c(10), i32.remU, i32c(48), i32.add, store8(3)],
    ...(g < 3 ? [get(L.pos), i32c(32), store8(4)] : []),
    ...[get(L.pos), i32c(g < 3 ? 5 : 4), i32.add, set(L.pos)],
  ]);

/**
 * nextExtra(currentSize, avg) as the `extra` columns (offset and length in the pool): nothing if
 * currentSize > avg; else needed = avg - currentSize, delta = Math.round(needed * 0.2) (computed as
 * floor(x + 0.5): the same for x >= 0 below 2^52), length needed - delta (+ nextInt(2 * delta) if
 * delta > 0), and a non-empty one at nextInt(EXTRA_POOL_SIZE - length).
 */
const extraFor = (currentSize: Code, avg: Code): Code => [
  ...[get(L.p4), i32c(0), i32store(EXTRA_LEN_AT), ...currentSize, tee(L.v), ...avg, f64.gt, i32.eqz, if_],
  ...[...avg, get(L.v), f64.sub, tee(L.v), f64c(0.2), f64.mul, f64c(0.5), f64.add, f64.floor, set(L.delta)],
  ...[get(L.v), get(L.delta), f64.sub, set(L.v)],
  ...[
    get(L.delta),
    f64c(0),
    f64.ne,
    if_,
    get(L.v),
    ...nextSmall([get(L.delta), f64c(2), f64.mul, i32.truncF64S]),
    f64.convertI32U,
    f64.add,
    set(L.v),
    end,
  ],
  ...[get(L.v), f64c(0), f64.gt, if_],
  ...[get(L.p4), get(L.v), i32.truncF64S, i32store(EXTRA_LEN_AT)],
  ...[
    get(L.p4),
    ...nextSmall([i32c(EXTRA_POOL_SIZE), get(L.v), i32.truncF64S, i32.sub]),
    i32store(EXTRA_OFF_AT),
  ],
  ...[end, end],
];

/** A random recent person (base 0) given lastPerson in `L.last`: nextBase0PersonId. */
const drawnPerson = (): Code => [
  // numPeople - active + nextLong(active + personIdLead), active = min(numPeople, numActivePeople)
  ...[get(L.last), f64c(1), f64.add, tee(L.v), get(L.v), get(P.numActivePeople), f64.min, tee(L.min)],
  ...[f64.sub, ...nextLong([get(L.min), get(P.personIdLead), f64.add]), f64.add],
];

/** A bid (`nextBid`): hot auction?, [auction], hot bidder?, [bidder], price, hot channel?, channel, extra. */
const bid: Code = [
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
  ...[f64c(1000), f64.add, set(L.v), get(L.p8), get(L.v), f64store(ID_AT)],
  // bidder: lastPerson = epoch * pp + pp - 1
  ...[get(P.epoch), get(P.ppF), f64.mul, get(P.ppF), f64.add, f64c(1), f64.sub, set(L.last)],
  ...hotOrDrawn(
    [get(P.hotBiddersRatio)],
    // hot: min(trunc(lastPerson / 100) * 100 + 1, lastPerson + personIdLead)
    [
      ...[get(L.last), f64c(100), f64.div, f64.trunc, f64c(100), f64.mul, f64c(1), f64.add],
      ...[get(L.last), get(P.personIdLead), f64.add, f64.min],
    ],
    drawnPerson(),
  ),
  ...[f64c(1000), f64.add, set(L.v), get(L.p8), get(L.v), f64store(PERSON_AT)],
  // price = priceFor(nextDouble())
  ...[get(L.p8), ...nextPrice(), f64store(PRICE_AT)],
  // channel: nextInt(2) > 0 ? hot channel nextInt(4) (stored as -1 - i) : nextInt(10000). Both
  // from the same draw u, chosen without a branch.
  // (nextInt(2) > 0 is u >= 2^31, nextInt(4) is u >>> 30: see nextSmall)
  ...[...next(), i32c(31), i32.shrU, set(L.flag), ...next(), set(L.u)],
  ...[get(L.p4), i32c(-1), get(L.u), i32c(30), i32.shrU, i32.sub],
  ...[get(L.u), ...i64.extendI32U, i64c(10000), ...i64.mul, ...i64.const32, ...i64.shrU, ...i32.wrapI64],
  ...[get(L.flag), select],
  i32store(CHOICE_AT),
  ...extraFor([f64c(8 + 8 + 8 + 8)], [get(P.avgBidByteSize)]),
];

/** A person (`nextPerson`): name, emailAddress, creditCard, city, state, extra. */
const person: Code = [
  // id = epoch * pp + offset + 1000 (lastBase0PersonId)
  ...[
    get(L.p8),
    get(P.epoch),
    get(P.ppF),
    f64.mul,
    get(P.offset),
    f64.convertI32U,
    f64.add,
    f64c(1000),
    f64.add,
  ],
  f64store(ID_AT),
  // name: first and last name indexes; size = 8 + name.length
  ...[...nextSmall([i32c(NAME_COUNTS[0])]), tee(L.c), set(L.flag)],
  ...[get(L.c), i32load8(LENGTHS_AT), i32c(9), i32.add, set(L.size)],
  ...[...nextSmall([i32c(NAME_COUNTS[1])]), tee(L.c), i32c(8), i32.shl, get(L.flag), i32.or, set(L.flag)],
  ...[get(L.c), i32load8(LENGTHS_AT + 16), get(L.size), i32.add, set(L.size)],
  // emailAddress = nextString(7) + "@" + nextString(5) + ".com"
  ...[get(L.p4), get(L.pos), i32c(CHARS_AT), i32.sub, i32store(STR_AT), get(L.pos), set(L.u)],
  ...nextStringAt(7),
  ...[get(L.pos), i32c(64), store8(0), get(L.pos), i32c(1), i32.add, set(L.pos)],
  ...nextStringAt(5),
  ...[get(L.pos), i32c(0x6d6f632e), i32store(0), get(L.pos), i32c(4), i32.add, set(L.pos)], // ".com"
  ...[
    get(L.p4),
    get(L.pos),
    get(L.u),
    i32.sub,
    tee(L.c),
    i32store(LEN1_AT),
    get(L.size),
    get(L.c),
    i32.add,
    set(L.size),
  ],
  // creditCard (19 chars)
  ...creditCardAt(),
  ...[get(L.p4), i32c(19), i32store(LEN2_AT), get(L.size), i32c(19), i32.add, set(L.size)],
  // city, state
  ...[...nextSmall([i32c(NAME_COUNTS[2])]), tee(L.c), i32c(16), i32.shl, get(L.flag), i32.or, set(L.flag)],
  ...[get(L.c), i32load8(LENGTHS_AT + 32), get(L.size), i32.add, set(L.size)],
  ...[...nextSmall([i32c(NAME_COUNTS[3])]), tee(L.c), i32c(24), i32.shl, get(L.flag), i32.or, set(L.flag)],
  ...[get(L.c), i32load8(LENGTHS_AT + 48), get(L.size), i32.add, set(L.size)],
  ...[get(L.p4), get(L.flag), i32store(CHOICE_AT)],
  ...extraFor([get(L.size), f64.convertI32U], [get(P.avgPersonByteSize)]),
];

/** An auction (`nextAuction`): seller, category, initialBid, expires, itemName, description, reserve, extra. */
const auction: Code = [
  // id = epoch * ap + (offset - pp) + 1000 (lastBase0AuctionId)
  ...[
    get(L.p8),
    get(P.epoch),
    get(P.apF),
    f64.mul,
    get(P.offset),
    get(P.pp),
    i32.sub,
    f64.convertI32U,
    f64.add,
  ],
  ...[f64c(1000), f64.add, f64store(ID_AT)],
  // seller: lastPerson = epoch * pp + (pp - 1) (lastBase0PersonId)
  ...[get(P.epoch), get(P.ppF), f64.mul, get(P.ppF), f64c(1), f64.sub, f64.add, set(L.last)],
  ...hotOrDrawn(
    [get(P.hotSellersRatio)],
    [get(L.last), f64c(100), f64.div, f64.trunc, f64c(100), f64.mul],
    drawnPerson(),
  ),
  ...[f64c(1000), f64.add, set(L.v), get(L.p8), get(L.v), f64store(PERSON_AT)],
  // category = 10 + nextInt(5)
  ...[get(L.p4), ...nextSmall([i32c(5)]), i32c(10), i32.add, i32store(CHOICE_AT)],
  // initialBid = nextPrice()
  ...[get(L.p8), ...nextPrice(), f64store(PRICE_AT)],
  // expires = timestamp + 1 + nextLong(max(horizonMs * 2, 1)), horizonMs =
  // timestampForEvent(eventNumber + numEventsForAuctions) - timestamp
  ...[
    get(P.baseTime),
    get(P.eventNumber),
    get(P.numEventsForAuctions),
    f64.add,
    get(P.delayUs),
    f64.mul,
    f64.floor,
  ],
  ...[
    f64c(1000),
    f64.div,
    f64.floor,
    f64.add,
    get(L.ts),
    f64.sub,
    f64c(2),
    f64.mul,
    f64c(1),
    f64.max,
    set(L.v),
  ],
  ...[get(L.p8), get(L.ts), f64c(1), f64.add, ...nextLong([get(L.v)]), f64.add, f64store(EXPIRES_AT)],
  // itemName = nextString(20), description = nextString(100)
  ...[get(L.p4), get(L.pos), i32c(CHARS_AT), i32.sub, i32store(STR_AT), get(L.pos), set(L.u)],
  ...nextStringAt(20),
  ...[get(L.p4), get(L.pos), get(L.u), i32.sub, tee(L.size), i32store(LEN1_AT), get(L.pos), set(L.u)],
  ...nextStringAt(100),
  ...[get(L.p4), get(L.pos), get(L.u), i32.sub, tee(L.c), i32store(LEN2_AT)],
  // reserve = initialBid + nextPrice()
  ...[get(L.p8), get(L.p8), f64load(PRICE_AT), ...nextPrice()],
  ...[f64.add, f64store(RESERVE_AT)],
  // currentSize = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8
  ...extraFor(
    [i32c(8), get(L.size), i32.add, get(L.c), i32.add, i32c(40), i32.add, f64.convertI32U],
    [get(P.avgAuctionByteSize)],
  ),
];

/**
 * fill(...): `count` consecutive in-order events into the columns (`fillInOrder`'s loop), their
 * strings' chars from CHARS_AT on; returns how many chars.
 */
const fill: Func = {
  params: FILL_PARAMS,
  results: [I32],
  locals: FILL_LOCALS,
  export: "fill",
  body: [
    ...[i32c(CHARS_AT), set(L.pos), get(P.count), i32.eqz, if_, i32c(0), ret, end],
    ...[get(P.eventId), ...i64.truncF64U, set(L.id)],
    loop,
    // p4 = i * 4, p8 = i * 8: addresses within the i32 and f64 columns
    ...[get(L.i), i32c(2), i32.shl, set(L.p4), get(L.i), i32c(3), i32.shl, set(L.p8)],
    // seedRandomHashed(seedHash, eventId): the low and high 32-bit halves of eventId (L.id)
    ...[get(P.seedHash), get(L.id), ...i32.wrapI64, i32c(0xcc9e2d51), i32.mul, i32.xor, ...fmix32()],
    ...[get(L.id), ...i64.const32, ...i64.shrU, ...i32.wrapI64, i32c(0x1b873593), i32.mul],
    ...[i32.xor, ...fmix32(), set(L.s)],
    // timestamp = baseTime + floor(floor(eventNumber * interEventDelayUs) / 1000)
    ...[get(L.p8), get(P.baseTime), get(P.eventNumber), get(P.delayUs), f64.mul, f64.floor, f64c(1000)],
    ...[f64.div, f64.floor, f64.add, tee(L.ts), f64store(TS_AT)],
    // kind: offset < pp person, < pp + ap auction, else bid
    ...[get(P.offset), get(P.ppa), i32.ltS, if_],
    ...[get(P.offset), get(P.pp), i32.ltS, if_],
    ...[get(L.p4), i32c(1), i32store(KIND_AT), ...person],
    else_,
    ...[get(L.p4), i32c(2), i32store(KIND_AT), ...auction],
    end,
    else_,
    ...[get(L.p4), i32c(0), i32store(KIND_AT), ...bid],
    end,
    // next event: eventId++, eventNumber++, offset++ (wrapping into the next epoch)
    ...[get(L.id), i64c(1), ...i64.add, set(L.id)],
    ...[get(P.eventNumber), f64c(1), f64.add, set(P.eventNumber)],
    ...[get(P.offset), i32c(1), i32.add, tee(P.offset), get(P.total), i32.eq, if_],
    ...[i32c(0), set(P.offset), get(P.epoch), f64c(1), f64.add, set(P.epoch), end],
    ...[get(L.i), i32c(1), i32.add, tee(L.i), get(P.count), i32.ltS, brIf(0)],
    end, // loop
    ...[get(L.pos), i32c(CHARS_AT), i32.sub],
  ],
};

/** The module's `fill` and views of its columns (see the memory layout above). */
export interface NexmarkWasm {
  /** Fills the columns with `count` events; returns how many chars it wrote (`chars`). */
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
    hotSellersRatio: number,
    numInFlightAuctions: number,
    auctionIdLead: number,
    numActivePeople: number,
    personIdLead: number,
    numEventsForAuctions: number,
    avgPersonByteSize: number,
    avgAuctionByteSize: number,
    avgBidByteSize: number,
  ): number;
  timestamp: Float64Array;
  id: Float64Array;
  person: Float64Array;
  price: Float64Array;
  reserve: Float64Array;
  expires: Float64Array;
  kind: Int32Array;
  choice: Int32Array;
  extraOffset: Int32Array;
  extraLength: Int32Array;
  str: Int32Array;
  len1: Int32Array;
  len2: Int32Array;
  chars: Uint8Array;
}

/** What `TextDecoder` offers here (core's type libraries do not declare it). */
interface Decoder {
  decode(bytes: Uint8Array): string;
}
const TextDecoderClass = (globalThis as { TextDecoder?: new () => Decoder }).TextDecoder;
let decoder: Decoder | undefined;

/**
 * The ASCII bytes `chars[0 .. n - 1]` as one string: through `TextDecoder` where there is one (one
 * call for a whole chunk's chars), else `String.fromCharCode` 8192 chars at a time.
 */
export function asciiString(
  chars: Uint8Array,
  n: number,
  useDecoder = TextDecoderClass !== undefined,
): string {
  if (useDecoder && TextDecoderClass !== undefined) {
    decoder ??= new TextDecoderClass();
    return decoder.decode(chars.subarray(0, n));
  }
  let s = "";
  for (let i = 0; i < n; i += 8192) {
    s += String.fromCharCode.apply(null, chars.subarray(i, Math.min(n, i + 8192)) as unknown as number[]);
  }
  return s;
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
    const bytes = assemble([pow10x6, fill], PAGES);
    const exports = new wa.Instance(new wa.Module(bytes)).exports;
    const buffer = (exports.mem as { buffer: ArrayBuffer }).buffer;
    new Float64Array(buffer, POW2_AT, POW2.length).set(POW2);
    const priceTable = new Float64Array(buffer, PRICE_TABLE_AT, PRICE_TABLE_SIZE);
    for (let i = 0; i < PRICE_TABLE_SIZE; i++) priceTable[i] = EXP2_TABLE[i % 128]! * POW2[i >> 7]! * 100;
    PERSON_TABLES.forEach((table, k) => {
      new Uint8Array(buffer, LENGTHS_AT + 16 * k, table.length).set(table.map((x) => x.length));
    });
    const charTable = new Uint8Array(buffer, CHAR_TABLE_AT, 13 * 26);
    for (let k = 0; k < 13 * 26; k++) charTable[k] = k < 26 ? 32 : 97 + (k % 26);
    const f64s = (at: number) => new Float64Array(buffer, at, CHUNK);
    const i32s = (at: number) => new Int32Array(buffer, at, CHUNK);
    return {
      fill: exports.fill as NexmarkWasm["fill"],
      ...{ timestamp: f64s(TS_AT), id: f64s(ID_AT), person: f64s(PERSON_AT), price: f64s(PRICE_AT) },
      ...{
        reserve: f64s(RESERVE_AT),
        expires: f64s(EXPIRES_AT),
        kind: i32s(KIND_AT),
        choice: i32s(CHOICE_AT),
      },
      ...{ extraOffset: i32s(EXTRA_OFF_AT), extraLength: i32s(EXTRA_LEN_AT), str: i32s(STR_AT) },
      ...{
        len1: i32s(LEN1_AT),
        len2: i32s(LEN2_AT),
        chars: new Uint8Array(buffer, CHARS_AT, END_AT - CHARS_AT),
      },
    };
  } catch {
    return null;
  }
}
