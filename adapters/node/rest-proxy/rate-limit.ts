/**
 * A per-client rate limit: a token bucket per client (its bearer token when it sends a valid
 * one, else its address), refilled at `requestsPerSecond` up to `burst`. A request finding the
 * bucket empty is answered 429 with `Retry-After` (whole seconds until a token is back).
 *
 * @example
 * app.use(rateLimit({ requestsPerSecond: 50, burst: 100 }, (c) => clientKey(c)));
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { RivuletError } from "../../../core/index.js";
import { proxyErrors } from "./errors.js";
import { errorResponse } from "./http.js";

export interface RateLimitOptions {
  /** Requests per second a client may make on average. */
  requestsPerSecond: number;
  /** Requests a client may make at once after being idle (default 2 x requestsPerSecond). */
  burst?: number;
  /** Who a request counts for (default: its valid bearer token, else the client's address). */
  key?: (c: Context) => string;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept at most; full (idle) ones are dropped first. */
const MAX_BUCKETS = 10_000;

export function rateLimit(options: RateLimitOptions, defaultKey: (c: Context) => string): MiddlewareHandler {
  const rate = options.requestsPerSecond;
  const burst = options.burst ?? Math.max(1, Math.ceil(rate * 2));
  if (!(rate > 0) || !(burst >= 1))
    throw new RivuletError("INVALID_ARGUMENT", "rateLimit needs requestsPerSecond > 0 and burst >= 1");
  const keyOf = options.key ?? defaultKey;
  const buckets = new Map<string, Bucket>();

  const refill = (b: Bucket, now: number) => {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
  };

  return async (c, next) => {
    const now = Date.now();
    const key = keyOf(c);
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_BUCKETS) prune(buckets, now, refill, burst);
      b = { tokens: burst, at: now };
      buckets.set(key, b);
    } else refill(b, now);
    if (b.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - b.tokens) / rate));
      return errorResponse(proxyErrors.tooManyRequests(seconds));
    }
    b.tokens -= 1;
    await next();
  };
}

function prune(
  buckets: Map<string, Bucket>,
  now: number,
  refill: (b: Bucket, now: number) => void,
  burst: number,
): void {
  for (const [k, b] of buckets) {
    refill(b, now);
    if (b.tokens >= burst) buckets.delete(k);
  }
  // Everyone busy: forget the oldest half rather than grow without bound.
  if (buckets.size >= MAX_BUCKETS) {
    let n = 0;
    for (const k of buckets.keys()) if (n++ < MAX_BUCKETS / 2) buckets.delete(k);
  }
}
