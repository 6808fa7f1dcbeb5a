import { describe, isRivuletError, RivuletError } from "../errors.js";

/**
 * How a job retries a broker or state store call that failed with a `retriable` error (a broker
 * restarting, a coordinator moving, a REST proxy answering 503): exponential backoff with full
 * jitter, then the job fails with the last error as the cause.
 *
 * @example
 * await run(pipeline, { broker, retry: { retries: 10, maxMs: 30_000 } });
 */
export interface RetryOptions {
  /** Attempts after the first (default 8; 0: fail at the first error). */
  retries?: number;
  /** Backoff before the first retry (ms, default 100); it doubles with each retry. */
  initialMs?: number;
  /** Longest backoff (ms, default 5 000). */
  maxMs?: number;
}

/** Runs `fn`, retrying it as `options` say while it fails with a retriable error. */
export async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const retries = options.retries ?? 8;
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 5_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!retriable(e)) throw e;
      if (attempt >= retries)
        throw new RivuletError(
          isRivuletError(e) ? e.code : "BROKER",
          `${what} failed ${attempt + 1} times, the last with: ${isRivuletError(e) ? e.message : describe(e)}`,
          { cause: e, retriable: true },
        );
      const ceiling = Math.min(max, initial * 2 ** attempt);
      await new Promise<void>((r) => setTimeout(() => r(), ceiling / 2 + Math.random() * (ceiling / 2)));
    }
  }
}

/**
 * Transient, and safe to try again. `PARTITIONS_LOST` is marked retriable (the member may rejoin)
 * but never retried as it was: the work goes to the partitions' new owners.
 */
function retriable(e: unknown): boolean {
  return isRivuletError(e) && e.retriable && e.code !== "PARTITIONS_LOST";
}
