import type { Clock } from "../time/clock.js";

/**
 * A clock that moves only when told to. Sleepers wake, in deadline order, when `advance`
 * or `set` passes their deadline.
 *
 * @example
 * const clock = new FakeClock(0);
 * const job = await run(pipeline, { broker, clock });
 * clock.advance(30_000); // processing-time timers and idleness see 30 s pass
 * await job.flush();
 */
export class FakeClock implements Clock {
  private sleepers: { at: number; resolve: () => void }[] = [];

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.time + Math.max(0, ms), resolve });
      this.wakeDue();
    });
  }

  advance(ms: number): void {
    this.set(this.time + ms);
  }

  set(time: number): void {
    if (time < this.time) throw new RangeError(`FakeClock cannot go back from ${this.time} to ${time}`);
    this.time = time;
    this.wakeDue();
  }

  private wakeDue(): void {
    const due = this.sleepers.filter((s) => s.at <= this.time).sort((a, b) => a.at - b.at);
    if (due.length === 0) return;
    this.sleepers = this.sleepers.filter((s) => s.at > this.time);
    for (const s of due) s.resolve();
  }
}
