/**
 * Aggregators fold records into an accumulator per key (and window). `merge` combines two
 * accumulators: session windows need it when sessions merge. Accumulators may be mutated in
 * `add` and returned; numbers are fine too.
 *
 * @example
 * const spend: Aggregator<Order, number, number> = {
 *   init: () => 0, add: (acc, o) => acc + o.amount, merge: (a, b) => a + b, result: (a) => a,
 * };
 */
export interface Aggregator<T, A, R> {
  init(): A;
  add(acc: A, value: T): A;
  merge(a: A, b: A): A;
  result(acc: A): R;
}

/** A record of named aggregators, combined into one whose result has the same names. */
export type AggregatorSpec<T> =
  | Aggregator<T, any, any>
  | { readonly [name: string]: Aggregator<T, any, any> };

export type AggregateResult<S> =
  S extends Aggregator<any, any, infer R>
    ? R
    : { [P in keyof S]: S[P] extends Aggregator<any, any, infer R> ? R : never };

/**
 * Number of records.
 *
 * @example
 * clicks.keyBy((c) => c.userId).window(tumbling(60_000)).aggregate(count())
 */
export function count(): Aggregator<unknown, number, number> {
  return { init: () => 0, add: (a) => a + 1, merge: (a, b) => a + b, result: (a) => a };
}

/**
 * Sum of a numeric field.
 *
 * @example
 * orders.keyBy((o) => o.customer).window(tumbling(3_600_000)).aggregate(sum((o) => o.amount))
 */
export function sum<T>(f: (value: T) => number): Aggregator<T, number, number> {
  return { init: () => 0, add: (a, v) => a + f(v), merge: (a, b) => a + b, result: (a) => a };
}

/**
 * Smallest value of a numeric field (a minimum of 0 is a minimum, not "missing").
 *
 * @example
 * bids.keyBy((b) => b.auction).window(tumbling(10_000)).aggregate(min((b) => b.price))
 */
export function min<T>(f: (value: T) => number): Aggregator<T, number, number> {
  return {
    init: () => Number.POSITIVE_INFINITY,
    add: (a, v) => {
      const x = f(v);
      return x < a ? x : a;
    },
    merge: (a, b) => (a < b ? a : b),
    result: (a) => a,
  };
}

/**
 * Largest value of a numeric field.
 *
 * @example
 * bids.keyBy((b) => b.auction).window(tumbling(10_000)).aggregate(max((b) => b.price))
 */
export function max<T>(f: (value: T) => number): Aggregator<T, number, number> {
  return {
    init: () => Number.NEGATIVE_INFINITY,
    add: (a, v) => {
      const x = f(v);
      return x > a ? x : a;
    },
    merge: (a, b) => (a > b ? a : b),
    result: (a) => a,
  };
}

interface AvgAcc {
  sum: number;
  count: number;
}

/**
 * Mean of a numeric field.
 *
 * @example
 * readings.keyBy((r) => r.sensor).window(sliding(60_000, 10_000)).aggregate(avg((r) => r.celsius))
 */
export function avg<T>(f: (value: T) => number): Aggregator<T, AvgAcc, number> {
  return {
    init: () => ({ sum: 0, count: 0 }),
    add: (a, v) => {
      a.sum += f(v);
      a.count++;
      return a;
    },
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
    result: (a) => (a.count === 0 ? Number.NaN : a.sum / a.count),
  };
}

/**
 * The `n` records with the largest `f`, largest first; ties keep arrival order.
 *
 * @example
 * bids.keyBy((b) => b.auction).window(tumbling(60_000)).aggregate(topN(3, (b) => b.price))
 */
export function topN<T>(n: number, f: (value: T) => number): Aggregator<T, T[], T[]> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`topN: n must be a positive integer, got ${n}`);
  const insert = (acc: T[], v: T): T[] => {
    const x = f(v);
    if (acc.length === n && !(x > f(acc[n - 1]!))) return acc;
    let i = acc.length;
    while (i > 0 && f(acc[i - 1]!) < x) i--;
    acc.splice(i, 0, v);
    if (acc.length > n) acc.pop();
    return acc;
  };
  return {
    init: () => [],
    add: insert,
    merge: (a, b) => b.reduce(insert, a.slice()),
    result: (a) => a.slice(),
  };
}

/** Folds with a reduce function; the first record is the initial accumulator. */
export function reducing<T>(fn: (a: T, b: T) => T): Aggregator<T, T | typeof EMPTY, T> {
  return {
    init: () => EMPTY,
    add: (a, v) => (a === EMPTY ? v : fn(a as T, v)),
    merge: (a, b) => (a === EMPTY ? b : b === EMPTY ? a : fn(a as T, b as T)),
    result: (a) => a as T,
  };
}

const EMPTY: unique symbol = Symbol("rivulet.empty");

/** Turns `{ n: count(), total: sum(f) }` into one aggregator with result `{ n, total }`. */
export function toAggregator<T>(spec: AggregatorSpec<T>): Aggregator<T, any, any> {
  if (isAggregator(spec)) return spec;
  const names = Object.keys(spec);
  if (names.length === 0) throw new TypeError("aggregate needs at least one aggregator");
  const parts = names.map((n) => (spec as Record<string, Aggregator<T, any, any>>)[n]!);
  for (const [i, p] of parts.entries())
    if (!isAggregator(p)) throw new TypeError(`aggregate: "${names[i]}" is not an aggregator`);
  return {
    init: () => parts.map((p) => p.init()),
    add: (acc: unknown[], v) => {
      for (let i = 0; i < parts.length; i++) acc[i] = parts[i]!.add(acc[i], v);
      return acc;
    },
    merge: (a: unknown[], b: unknown[]) => parts.map((p, i) => p.merge(a[i], b[i])),
    result: (acc: unknown[]) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < parts.length; i++) {
        const name = names[i]!;
        const r = parts[i]!.result(acc[i]);
        // "__proto__" must stay a field of the result, not replace its prototype.
        if (name === "__proto__")
          Object.defineProperty(out, name, {
            value: r,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        else out[name] = r;
      }
      return out;
    },
  };
}

export function isAggregator(x: unknown): x is Aggregator<any, any, any> {
  const a = x as Partial<Aggregator<any, any, any>> | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.init === "function" &&
    typeof a.add === "function" &&
    typeof a.merge === "function" &&
    typeof a.result === "function"
  );
}
