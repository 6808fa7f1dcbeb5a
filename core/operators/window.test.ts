import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { Pipeline } from "../pipeline/builder.js";
import type { WindowNode } from "../pipeline/plan.js";
import { RuntimeContext } from "../runtime/context.js";
import { run } from "../runtime/job.js";
import { FakeClock } from "../testing/fake-clock.js";
import { sliding, tumbling, type WindowSpec } from "../time/windows.js";
import type { WindowResult } from "../types.js";
import { count } from "./aggregators.js";
import type { TimedOperator } from "./operator.js";
import { WindowOperator } from "./window.js";

type Ev = { k: string; ts: number };

/** A window step on its own: `fired` collects `[key, start, end, count]`, `late` late timestamps. */
function windows(spec: WindowSpec, allowedLateness = 0) {
  const fired: [unknown, number, number, number][] = [];
  const node = {
    kind: "window",
    window: spec,
    allowedLateness,
    lateTo: "late",
    aggregator: count(),
    label: "window",
    step: 2,
    keyed: true,
  } as unknown as WindowNode;
  const rt = new RuntimeContext(new FakeClock(0), "fail", "dlq");
  const op = new WindowOperator("w", node, rt, (v: WindowResult<unknown, number>) =>
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

describe("tumbling and sliding windows: Flink's boundaries, exactly", () => {
  it("the watermark is max timestamp - maxOutOfOrderness - 1; a window fires when it reaches end - 1", async () => {
    // Flink's BoundedOutOfOrdernessWatermarks emits maxTimestamp - outOfOrdernessMillis - 1;
    // EventTimeTrigger sets a timer at window.maxTimestamp() (end - 1), and timers fire when
    // timestamp <= watermark. Window [0, 100), maxOutOfOrderness 5: a record at 104 makes the
    // watermark 98 (no firing), one at 105 makes it 99 (fires).
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const p = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { maxOutOfOrderness: 5 } })
      .keyBy((e) => e.k)
      .window(tumbling(100))
      .aggregate(count())
      .to("out");
    const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
    const send = async (ts: number) => {
      await broker.produce("in", [{ key: "a", value: { k: "a", ts } }]);
      await job.flush();
      return (await broker.records<WindowResult<string, number>>("out")).map((r) => [
        r.value.end,
        r.timestamp,
      ]);
    };
    await send(0);
    expect(await send(104)).toEqual([]);
    expect(job.metrics().watermark).toBe(98);
    expect(await send(105)).toEqual([[100, 99]]);
    await job.stop();
  });

  it("a record is late exactly when its window's end - 1 + allowedLateness <= watermark", () => {
    // Flink's WindowOperator.isWindowLate: cleanupTime (maxTimestamp + allowedLateness) <=
    // currentWatermark; isElementLate: timestamp + allowedLateness <= watermark. Window [0, 10),
    // lateness 5: cleanup time 14.
    for (const [wm, late] of [
      [13, false],
      [14, true],
    ] as const) {
      const { op, fired, rt } = windows(tumbling(10), 5);
      op.push(null, 1, "a");
      watermark(op, wm); // fires [0, 10) (9 <= wm)
      rt.fate = 0;
      op.push(null, 2, "a");
      expect(rt.fate).toBe(late ? 4 : 1); // LATE : AGGREGATED
      // Within the lateness: fires again at once with the updated count (EventTimeTrigger.onElement:
      // FIRE when maxTimestamp <= watermark).
      expect(fired).toEqual(
        late
          ? [["a", 0, 10, 1]]
          : [
              ["a", 0, 10, 1],
              ["a", 0, 10, 2],
            ],
      );
      expect(op.liveState().windows).toBe(late ? 0 : 1); // the state went at the cleanup time
    }
  });

  it("with sliding windows, a record is late only when all its windows are", () => {
    // Flink's processElement: isSkippedElement stays true only if every window isWindowLate.
    // sliding(10, 5): 7 is in [0, 10) (cleanup 9) and [5, 15) (cleanup 14).
    const { op, rt } = windows(sliding(10, 5));
    watermark(op, 13);
    rt.fate = 0;
    op.push(null, 7, "a");
    expect(rt.fate).toBe(1); // into [5, 15) only
    watermark(op, 20);
    op.push(null, 11, "b"); // [5, 15) and [10, 20): cleanup 14, 19 <= 20
    expect(rt.fate & 4).toBe(4);
  });
});

describe("windows: bucket slots proportional to live windows", () => {
  it("dropping windows keeps the bucket array within twice the live windows", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1, max: 20 }).map((size) => tumbling(size)),
          fc
            .integer({ min: 2, max: 30 })
            .chain((size) => fc.integer({ min: 1, max: size }).map((slide) => sliding(size, slide))),
        ),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat({ max: 15 })), {
          minLength: 100,
          maxLength: 500,
        }),
        (spec, lateness, ooo, steps) => {
          const { op } = windows(spec, lateness);
          let t = 0;
          for (const [step, back] of steps) {
            t += step;
            op.push(null, Math.max(0, t - back), "k");
            watermark(op, t - ooo - 1);
            const s = op.liveState();
            expect(s.slots).toBeLessThanOrEqual(2 * s.windows);
          }
          watermark(op, Number.POSITIVE_INFINITY);
          expect(op.liveState()).toEqual({ windows: 0, entries: 0, slots: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });
});
