import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WindowJoinNode } from "../pipeline/plan.js";
import { RuntimeContext } from "../runtime/context.js";
import { FakeClock } from "../testing/fake-clock.js";
import { sliding, tumbling, type WindowSpec } from "../time/windows.js";
import type { TimedOperator } from "./operator.js";
import { WindowJoinOperator } from "./window-join.js";

/** A window join step on its own: `pairs` collects `[left, right, timestamp]`. */
function windowJoin(spec: WindowSpec) {
  const pairs: [unknown, unknown, number][] = [];
  const node = {
    kind: "windowJoin",
    window: spec,
    fn: (l: unknown, r: unknown) => [l, r],
    label: "join",
    step: 3,
    keyed: true,
  } as unknown as WindowJoinNode;
  const rt = new RuntimeContext(new FakeClock(0), "fail", "dlq");
  const op = new WindowJoinOperator("wj", node, rt, (v: [unknown, unknown], ts: number) =>
    pairs.push([v[0], v[1], ts]),
  );
  return { op, pairs, rt };
}

/** Moves an operator's watermark as the executor does: `advance` only when something is due. */
function watermark(op: TimedOperator, w: number): void {
  if (w <= op.wm) return;
  if (w >= op.nextDue) op.advance(w);
  else op.wm = w;
}

describe("window join: Flink's boundaries, exactly", () => {
  it("a window fires at watermark end - 1; a record whose window has end - 1 <= watermark is late", () => {
    // Flink's window join is a WindowOperator with EventTimeTrigger and no allowed lateness:
    // the timer at maxTimestamp (end - 1) fires when <= watermark, and isWindowLate is
    // maxTimestamp + 0 <= watermark. Window [0, 10).
    const { op, pairs, rt } = windowJoin(tumbling(10));
    op.pushLeft("l", 3, "k");
    watermark(op, 8);
    rt.fate = 0;
    op.pushRight("r", 5, "k"); // end - 1 = 9 > 8: in time
    expect(rt.fate).toBe(1); // AGGREGATED
    expect(pairs).toEqual([]);
    watermark(op, 9);
    expect(pairs).toEqual([["l", "r", 9]]);
    rt.fate = 0;
    op.pushRight("late", 5, "k"); // 9 <= 9: late
    expect(rt.fate).toBe(4); // LATE
    expect(op.liveState().windows).toBe(0);
  });
});

describe("window join: bucket slots proportional to live windows", () => {
  it("firing windows keeps the bucket array within twice the live windows", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1, max: 20 }).map((size) => tumbling(size)),
          fc
            .integer({ min: 2, max: 30 })
            .chain((size) => fc.integer({ min: 1, max: size }).map((slide) => sliding(size, slide))),
        ),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat({ max: 15 }), fc.boolean()), {
          minLength: 100,
          maxLength: 500,
        }),
        (spec, ooo, steps) => {
          const { op } = windowJoin(spec);
          let t = 0;
          for (const [step, back, left] of steps) {
            t += step;
            (left ? op.pushLeft : op.pushRight)(t, Math.max(0, t - back), "k");
            watermark(op, t - ooo - 1);
            const s = op.liveState();
            expect(s.slots).toBeLessThanOrEqual(2 * s.windows);
          }
          watermark(op, Number.POSITIVE_INFINITY);
          expect(op.liveState()).toEqual({ windows: 0, records: 0, slots: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });
});
