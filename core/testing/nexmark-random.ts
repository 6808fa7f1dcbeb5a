/**
 * Randomness and string helpers for the Nexmark generator (see `nexmark.ts`).
 *
 * One module-level PRNG is re-seeded for every event from (seed, eventId), the way Beam seeds a
 * fresh `java.util.Random(eventId)` per event, so any event can be generated on its own. The PRNG is
 * mulberry32 (32-bit state, a few integer multiplies per draw): plain functions over one mutable
 * word, so the hot path allocates nothing and creates no closures.
 *
 * Runtime-agnostic: no Node or DOM APIs.
 */

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;

/**
 * The PRNG state; only the functions below touch it. A typed array's slot, not a module `let`: a
 * module variable holds tagged values, so every draw stored an int32 outside the Smi range as a
 * fresh heap number (and paid a hole check on each read).
 */
const state = new Int32Array(1);

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** The part of an event's PRNG seed that depends on the stream's seed only (see `seedRandom`). */
export function seedHash(seed: number): number {
  const h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  return fmix32(h ^ Math.imul(Math.floor(seed / TWO_POW_32) >>> 0, 0x27d4eb2f));
}

/**
 * Seed the PRNG for one event. Both `seed` and `eventId` may be any integers up to 2^53: their low
 * and high 32-bit halves are all folded in, so neighbouring ids land far apart in the PRNG cycle.
 */
export function seedRandom(seed: number, eventId: number): void {
  seedRandomHashed(seedHash(seed), eventId);
}

/** `seedRandom(seed, eventId)` given `seedHash(seed)`: what a batch does per event. */
export function seedRandomHashed(seedHash: number, eventId: number): void {
  const high = eventId < TWO_POW_32 ? 0 : Math.floor(eventId / TWO_POW_32) >>> 0;
  const h = fmix32(seedHash ^ Math.imul(eventId >>> 0, 0xcc9e2d51));
  state[0] = fmix32(h ^ Math.imul(high, 0x1b873593));
}

/** Next uniformly distributed unsigned 32-bit integer (mulberry32). */
export function nextU32(): number {
  const s = (state[0] = (state[0]! + 0x6d2b79f5) | 0);
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (t ^ (t >>> 14)) >>> 0;
}

/** A double in [0, 1) with 32 random bits (plenty for prices and coin flips). */
export function nextDouble(): number {
  return nextU32() * INV_TWO_POW_32;
}

/** An integer in [0, n) for 1 <= n <= 2^32 (multiply-shift; no division, bias < 2^-32 * n). */
export function nextInt(n: number): number {
  return Math.floor(nextU32() * n * INV_TWO_POW_32);
}

/** An integer in [0, n) for any 1 <= n <= 2^53 (Beam's LongGenerator.nextLong). */
export function nextLong(n: number): number {
  if (n <= TWO_POW_32) return nextInt(n);
  // 53 random bits for wide ranges.
  const hi = nextU32() >>> 11;
  const lo = nextU32();
  return Math.floor(((hi * TWO_POW_32 + lo) / 9007199254740992) * n);
}

/** 6 * log2(10) as a literal: number literals (and Math.LN2) are identical on every engine. */
export const SIX_LOG2_10 = 19.931568569324174;
export const LN2 = Math.LN2;
/** 2^0 .. 2^20, exact. */
export const POW2: number[] = [];
for (let k = 0; k <= 20; k++) POW2.push(2 ** k);

/**
 * 10^(6u) for u in [0, 1), using only +, *, /, floor and exact powers of two, so that (unlike
 * Math.pow, whose last bit is engine-defined) it is bit-identical on every JS engine; it is also
 * faster. Measured relative error vs Math.pow below 4e-14.
 */
export function pow10x6(u: number): number {
  const y = u * SIX_LOG2_10; // 10^(6u) = 2^y = 2^n * e^t
  const n = Math.floor(y);
  const t = (y - n) * LN2; // t in [0, ln 2)
  // e^t by its Taylor series to degree 13, Horner form: truncation error < (ln 2)^14 / 14! < 1e-12.
  const p =
    1 +
    t *
      (1 +
        t *
          (1 / 2 +
            t *
              (1 / 6 +
                t *
                  (1 / 24 +
                    t *
                      (1 / 120 +
                        t *
                          (1 / 720 +
                            t *
                              (1 / 5040 +
                                t *
                                  (1 / 40320 +
                                    t *
                                      (1 / 362880 +
                                        t *
                                          (1 / 3628800 +
                                            t *
                                              (1 / 39916800 + t * (1 / 479001600 + t / 6227020800))))))))))));
  return p * POW2[n]!;
}

/**
 * 2^(j/128) for j in 0..127. `**` may differ in its last bit between engines; only `nextPrice`'s
 * fast path reads these, and its result does not depend on bits that fine (see PRICE_MARGIN).
 */
export const EXP2_TABLE = new Float64Array(128);
for (let j = 0; j < 128; j++) EXP2_TABLE[j] = 2 ** (j / 128);

/**
 * Both `pow10x6` and `nextPrice`'s fast approximation are within 2e-13 of 10^(6u) (relative):
 * pow10x6's Taylor series stops at degree 13 (remainder < 1.4e-13), the fast one at degree 4 over
 * an interval 128 times smaller (< 4e-14), plus a few ulps of rounding on each side. Where the
 * fast value is farther than this from a rounding boundary, both round to the same price.
 */
const PRICE_MARGIN = 1e-12;

/**
 * Beam's PriceGenerator.nextPrice: round(10^(6u) * 100), log-uniform cents in [100, 100,000,000].
 * Exactly `Math.floor(pow10x6(u) * 100 + 0.5)` (Java's Math.round for positive x), but computed
 * as 2^n * 2^(j/128) * e^r with a degree-4 polynomial (a quarter of pow10x6's multiplications);
 * the rare values within `PRICE_MARGIN` of a rounding boundary (about 1 in 10,000) take pow10x6.
 */
export function nextPrice(): number {
  return priceFor(nextDouble());
}

/** `nextPrice` for the draw `u` in [0, 1): `Math.floor(pow10x6(u) * 100 + 0.5)`, computed fast. */
export function priceFor(u: number): number {
  const y = u * SIX_LOG2_10;
  const n = Math.floor(y);
  const f = y - n;
  const j = Math.floor(f * 128);
  const r = (f - j / 128) * LN2; // [0, ln 2 / 128)
  const e = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r / 24)));
  const x = e * EXP2_TABLE[j]! * POW2[n]! * 100 + 0.5;
  const price = Math.floor(x);
  const margin = x * PRICE_MARGIN;
  if (x - price > margin && price + 1 - x > margin) return price;
  return Math.floor(pow10x6(u) * 100 + 0.5);
}

const CODE_A = 97;
const CODE_SPACE = 32;
const MIN_STRING_LENGTH = 3;
/** Scratch char-code arrays for nextString, one per length, so building a string allocates nothing else. */
const charBufs: number[][] = [];

/**
 * Beam's StringsGenerator.nextString: length in [3, maxLength), each char a lowercase letter except
 * one in 13 is `special` (a space by default); the result is trimmed, so it may come out shorter.
 * One draw per char picks both (Beam draws twice); the distribution is the same.
 */
export function nextString(maxLength: number, special: number = CODE_SPACE): string {
  const len = MIN_STRING_LENGTH + nextInt(maxLength - MIN_STRING_LENGTH);
  let buf = charBufs[len];
  if (buf === undefined) charBufs[len] = buf = new Array<number>(len).fill(0);
  for (let i = 0; i < len; i++) {
    const k = nextInt(13 * 26); // k < 26: special (p = 1/13); else a uniform letter
    buf[i] = k < 26 ? special : CODE_A + (k % 26);
  }
  const s = String.fromCharCode.apply(null, buf);
  return special === CODE_SPACE ? s.trim() : s;
}

/** Beam's nextExactString, drawing afresh: six letters per 31-bit draw. */
function freshExactString(length: number): string {
  const parts: string[] = [];
  const chunk: number[] = [];
  let rnd = 0;
  let left = 0;
  for (let i = 0; i < length; i++) {
    if (left === 0) {
      rnd = nextU32() >>> 1;
      left = 6; // floor(log_26(2^31))
    }
    chunk.push(CODE_A + (rnd % 26));
    rnd = Math.floor(rnd / 26);
    left--;
    if (chunk.length === 4096) {
      parts.push(String.fromCharCode.apply(null, chunk));
      chunk.length = 0;
    }
  }
  parts.push(String.fromCharCode.apply(null, chunk));
  return parts.join("");
}

/** Size of the shared pool of random letters that `extra` strings are sliced from (as in Flink's generator). */
export const EXTRA_POOL_SIZE = 1 << 20;
let extraPool: string | undefined;

export function getExtraPool(): string {
  // Fixed seed: the pool is the same for every config and seed.
  extraPool ??= withFixedRandom(0x4e45584d, 0x41524b, () => freshExactString(EXTRA_POOL_SIZE));
  return extraPool;
}

/**
 * A random lowercase string of exactly `length` chars. Like the Flink generator, short strings are
 * slices of one shared 1 MiB random string at a random offset (cheap: V8 makes a sliced string, no
 * copy); strings of half the pool or longer are drawn afresh as in Beam.
 */
export function nextExactString(length: number): string {
  if (length <= 0) return "";
  if (length < EXTRA_POOL_SIZE / 2) {
    const offset = nextInt(EXTRA_POOL_SIZE - length);
    return getExtraPool().slice(offset, offset + length);
  }
  return freshExactString(length);
}

/**
 * Beam's StringsGenerator.nextExtra: padding such that `currentSize + extra.length` averages
 * `desiredAverageSize` (uniform within +/-20% of the padding needed); "" when already too big.
 */
export function nextExtra(currentSize: number, desiredAverageSize: number): string {
  if (currentSize > desiredAverageSize) return "";
  const needed = desiredAverageSize - currentSize;
  const delta = Math.round(needed * 0.2);
  const size = needed - delta + (delta === 0 ? 0 : nextInt(2 * delta));
  return nextExactString(size);
}

/** Run `fn` with the PRNG seeded by (seed, id), restoring the previous state afterwards. */
export function withFixedRandom<T>(seed: number, id: number, fn: () => T): T {
  const saved = state[0]!;
  seedRandom(seed, id);
  try {
    return fn();
  } finally {
    state[0] = saved;
  }
}
