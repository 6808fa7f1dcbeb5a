/**
 * A per-client rate limit for an edge app: a token bucket per client, refilled at
 * `requestsPerSecond` up to `burst`; a request that finds its bucket empty is answered 429 with
 * `Retry-After`. The buckets live in the isolate, so on a platform that runs many isolates this
 * bounds each one; a platform-wide limit is the platform's (Cloudflare's Rate Limiting binding or
 * WAF rules), in front of this one.
 */
export interface EdgeRateLimit {
  /** Requests per second a client may make on average. */
  requestsPerSecond: number;
  /** Requests a client may make at once after being idle (default 2 x requestsPerSecond). */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 10_000;

/** Buckets for one limit: `take(client)` says 0 (go on) or the seconds to wait. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;

  constructor(limit: EdgeRateLimit) {
    this.rate = limit.requestsPerSecond;
    this.burst = limit.burst ?? Math.max(1, Math.ceil(this.rate * 2));
    if (!(this.rate > 0) || !(this.burst >= 1))
      throw new TypeError("rateLimit needs requestsPerSecond > 0 and burst >= 1");
  }

  take(client: string, now = Date.now()): number {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else this.refill(b, now);
    if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
    b.tokens -= 1;
    return 0;
  }

  private refill(b: Bucket, now: number): void {
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
  }

  /** Drops idle (full) buckets; when every client is busy, the oldest half. */
  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      this.refill(b, now);
      if (b.tokens >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= MAX_BUCKETS) {
      let n = 0;
      for (const k of this.buckets.keys()) if (n++ < MAX_BUCKETS / 2) this.buckets.delete(k);
    }
  }
}

/** Who a request counts for: the platform's client address, else one shared bucket. */
export function clientOf(headers: { get(name: string): string | null }): string {
  return (
    headers.get("cf-connecting-ip") ??
    headers.get("x-real-ip") ??
    headers.get("x-forwarded-for")?.split(",")[0]?.trim() ??
    "unknown"
  );
}
