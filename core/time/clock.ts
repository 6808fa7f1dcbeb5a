/**
 * Processing time comes from a clock the job is given, never from `Date.now()` directly,
 * so tests and the playground can drive it (`FakeClock` in `rivulet/testing`).
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>;
}

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
