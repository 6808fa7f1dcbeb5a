import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { Pipeline } from "../pipeline/builder.js";
import type { WindowNode } from "../pipeline/plan.js";
import { RuntimeContext } from "../runtime/context.js";
import { run } from "../runtime/job.js";
import { FakeClock } from "../testing/fake-clock.js";
import { STALE_SLACK } from "../time/heap.js";
import { session } from "../time/windows.js";
import type { WindowResult } from "../types.js";
import { count } from "./aggregators.js";
import type { TimedOperator } from "./operator.js";
import { SessionWindowOperator } from "./session-window.js";

type Ev = { k: string; ts: number };

/** A session window step on its own: `fired` collects `[key, start, end, count]`. */
function sessions(gap: number, allowedLateness = 0) {
  const fired: [unknown, number, number, number][] = [];
  const node = {
    kind: "window",
    window: session(gap),
    allowedLateness,
    lateTo: undefined,
    aggregator: count(),
    label: "session",
    step: 2,
    keyed: true,
  } as unknown as WindowNode;
  const rt = new RuntimeContext(new FakeClock(0), "fail", "dlq");
  const op = new SessionWindowOperator("s", node, rt, (v: WindowResult<unknown, number>) =>
    fired.push([v.key, v.start, v.end, v.value]),
  );
  return { op, fired, rt };
}

/** Moves an operator's watermark as the executor does: `advance` only when something is due. */
function watermark(op: TimedOperator, w: number): void {
  if (w <= op.wm) return;
  if (w >= op.nextDue) op.advance(w);
  else op.wm = w;
}

/** Runs a session count over `events` (one partition, in order) and returns what fired and was late. */
async function runSessions(events: Ev[], gap: number, opts: { ooo?: number; lateness?: number } = {}) {
  const broker = new MemoryBroker();
  await broker.createTopic("in");
  await broker.produce(
    "in",
    events.map((e) => ({ key: e.k, value: e, timestamp: e.ts })),
  );
  const p = Pipeline.source<Ev>("in", {
    timestamp: (e) => e.ts,
    watermark: { maxOutOfOrderness: opts.ooo ?? 0 },
  })
    .keyBy((e) => e.k)
    .window(session(gap), { allowedLateness: opts.lateness ?? 0, lateTo: "late" })
    .aggregate(count())
    .to("out");
  const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
  await job.drain();
  const out = (await broker.records<WindowResult<string, number>>("out")).map((r) => [
    r.value.key,
    r.value.start,
    r.value.end,
    r.value.value,
  ]);
  const late = (await broker.records<Ev>("late")).map((r) => r.value.ts);
  return { out, late };
}

describe("session windows: Flink's boundaries, exactly", () => {
  it("sessions that touch (one's end == the other's start) merge, as TimeWindow.intersects", async () => {
    // Flink's TimeWindow.intersects: this.start <= other.end && this.end >= other.start.
    // [0, 10) and [10, 20) touch: one session [0, 20). [0, 10) and [11, 21) do not.
    const big = 1_000; // no watermark reaches them before the end
    expect(
      (
        await runSessions(
          [
            { k: "a", ts: 0 },
            { k: "a", ts: 10 },
          ],
          10,
          { ooo: big },
        )
      ).out,
    ).toEqual([["a", 0, 20, 2]]);
    expect(
      (
        await runSessions(
          [
            { k: "a", ts: 20 },
            { k: "a", ts: 10 },
          ],
          10,
          { ooo: big },
        )
      ).out,
    ).toEqual([["a", 10, 30, 2]]);
    expect(
      (
        await runSessions(
          [
            { k: "a", ts: 0 },
            { k: "a", ts: 11 },
          ],
          10,
          { ooo: big },
        )
      ).out,
    ).toEqual([
      ["a", 0, 10, 1],
      ["a", 11, 21, 1],
    ]);
  });

  it("a session fires when the watermark reaches end - 1, not before", () => {
    // Flink's EventTimeTrigger: a timer at window.maxTimestamp() (end - 1); InternalTimerService
    // fires timers with timestamp <= watermark.
    const { op, fired } = sessions(10);
    op.push(null, 0, "a");
    watermark(op, 8);
    expect(fired).toEqual([]);
    watermark(op, 9);
    expect(fired).toEqual([["a", 0, 10, 1]]);
    expect(op.liveState()).toEqual({ keys: 0, sessions: 0, timers: 0 }); // no lateness: gone
  });

  it("a new session is late exactly when end - 1 + allowedLateness <= watermark", async () => {
    // Flink's WindowOperator.isWindowLate: cleanupTime(window) = maxTimestamp + allowedLateness
    // <= currentWatermark. Gap 10, lateness 3: a record at 5 opens [5, 15): late once the
    // watermark is 14 + 3 = 17.
    for (const [wmTs, late] of [
      [18, true], // watermark 17 (ooo 0: max - 1)
      [17, false], // watermark 16: accepted, fires at once (14 <= 16)
    ] as const) {
      const { out, late: lateTs } = await runSessions(
        [
          { k: "b", ts: wmTs },
          { k: "a", ts: 5 },
        ],
        10,
        { lateness: 3 },
      );
      expect(lateTs).toEqual(late ? [5] : []);
      expect(out.filter((o) => o[0] === "a")).toEqual(late ? [] : [["a", 5, 15, 1]]);
    }
  });

  it("a record merging into a fired session within its lateness fires it again at once", () => {
    // Flink: the merged window is not late (its cleanup time has not passed), and
    // EventTimeTrigger.onElement returns FIRE when window.maxTimestamp() <= watermark.
    const { op, fired } = sessions(10, 5);
    op.push(null, 0, "a"); // [0, 10)
    watermark(op, 9);
    expect(fired).toEqual([["a", 0, 10, 1]]);
    op.push(null, 0, "a"); // [0, 10) again: end unchanged, 9 <= 9: fires again
    expect(fired).toEqual([
      ["a", 0, 10, 1],
      ["a", 0, 10, 2],
    ]);
    op.push(null, 3, "a"); // grows it to [0, 13): 12 > 9, fires when the watermark gets there
    expect(fired.length).toBe(2);
    watermark(op, 12);
    expect(fired[2]).toEqual(["a", 0, 13, 3]);
  });

  it("a session's state goes when the watermark reaches end - 1 + allowedLateness", () => {
    // Flink's cleanup timer at maxTimestamp + allowedLateness (fires when <= watermark).
    // Gap 10, lateness 5: [0, 10) is cleaned at watermark 14.
    const before = sessions(10, 5);
    before.op.push(null, 0, "a");
    watermark(before.op, 13);
    before.op.push(null, 9, "a"); // still there: merges into [0, 19)
    watermark(before.op, Number.POSITIVE_INFINITY);
    expect(before.fired).toEqual([
      ["a", 0, 10, 1],
      ["a", 0, 19, 2],
    ]);

    const after = sessions(10, 5);
    after.op.push(null, 0, "a");
    watermark(after.op, 14);
    expect(after.op.liveState().sessions).toBe(0);
    after.op.push(null, 9, "a"); // gone: a new session [9, 19) (18 + 5 > 14: not late)
    watermark(after.op, Number.POSITIVE_INFINITY);
    expect(after.fired).toEqual([
      ["a", 0, 10, 1],
      ["a", 9, 19, 1],
    ]);
  });
});

describe("session windows: timers proportional to open sessions, not records", () => {
  it("one key, N in-order records growing the same session: one timer", () => {
    const { op, fired } = sessions(100, 50);
    for (let i = 0; i < 10_000; i++) {
      op.push(null, i * 10, "a");
      watermark(op, i * 10 - 1);
      expect(op.liveState().timers).toBeLessThanOrEqual(2 * op.liveState().sessions + STALE_SLACK);
    }
    expect(op.liveState()).toEqual({ keys: 1, sessions: 1, timers: 1 });
    watermark(op, Number.POSITIVE_INFINITY);
    expect(fired).toEqual([["a", 0, 99_990 + 100, 10_000]]);
  });

  it("random keys, gaps, disorder, lateness: heap entries <= 2 x live sessions + STALE_SLACK", () => {
    fc.assert(
      fc.property(
        fc.record({
          keys: fc.integer({ min: 1, max: 6 }),
          gap: fc.integer({ min: 1, max: 40 }),
          lateness: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 })),
          ooo: fc.integer({ min: 0, max: 30 }),
          steps: fc.array(
            fc.record({
              key: fc.nat(),
              step: fc.integer({ min: 0, max: 15 }),
              back: fc.nat({ max: 40 }),
            }),
            { minLength: 200, maxLength: 600 },
          ),
        }),
        ({ keys, gap, lateness, ooo, steps }) => {
          const { op } = sessions(gap, lateness);
          let t = 0;
          let max = 0;
          for (const s of steps) {
            t += s.step;
            const ts = Math.max(0, t - s.back); // sometimes late: fires fired sessions again
            op.push(null, ts, `k${s.key % keys}`);
            if (ts > max) max = ts;
            watermark(op, max - ooo - 1);
            const { sessions: live, timers } = op.liveState();
            expect(timers).toBeLessThanOrEqual(2 * live + STALE_SLACK);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
