/**
 * A full GC, then a wait until V8's background GC threads are done with what it left, before a
 * timed run (bench/run.ts and bench/profile.ts; both need `--expose-gc`).
 */

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** This process's CPU time in ms (user + system), every thread's. */
export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * `gc()`, then sleep until the process is idle: while the main thread sleeps, the process's CPU
 * time is the GC threads' (concurrent sweeping of a heap of 0.5-4 GB), so the wait ends at the
 * first 50 ms in which the process used under 2.5 ms of CPU (at most 10 s). On one core those
 * threads preempt whatever runs next: a loop's first pass over 2M events right after `gc()` ran at
 * 13-19M/s, a pass after this wait at 65-70M/s, and the engine's q2 at 11.5M/s against 16.9M/s
 * (medians of 5 runs). Every timed run, engine and loops alike, starts after it.
 */
export async function settle(): Promise<void> {
  gc();
  const deadline = performance.now() + 10_000;
  for (;;) {
    const c0 = cpuMs();
    await new Promise((r) => setTimeout(r, 50));
    if (cpuMs() - c0 < 2.5 || performance.now() > deadline) return;
  }
}
