import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { Pipeline } from "../pipeline/builder.js";
import type { IntervalJoinNode } from "../pipeline/plan.js";
import { RuntimeContext } from "../runtime/context.js";
import { run } from "../runtime/job.js";
import { FakeClock } from "../testing/fake-clock.js";
import { STALE_SLACK } from "../time/heap.js";
import { IntervalJoinOperator } from "./interval-join.js";
import type { TimedOperator } from "./operator.js";

/** A record of one side ("L" or "R") of the join. */
type Ev = { side: "L" | "R"; k: string; ts: number; id: string };

/** An interval join step on its own: `pairs` collects `[left id, right id, timestamp]`. */
function join(lower: number, upper: number) {
  const pairs: [string, string, number][] = [];
  const node = {
    kind: "intervalJoin",
    lower,
    upper,
    fn: (l: Ev, r: Ev) => [l.id, r.id],
    label: "join",
    step: 3,
    keyed: true,
  } as unknown as IntervalJoinNode;
  const rt = new RuntimeContext(new FakeClock(0), "fail", "dlq");
  const op = new IntervalJoinOperator("j", node, rt, (v: [string, string], ts: number) =>
    pairs.push([v[0], v[1], ts]),
  );
  const push = (e: Ev) => {
    rt.fate = 0;
    (e.side === "L" ? op.pushLeft : op.pushRight)(e, e.ts, e.k);
    return rt.fate;
  };
  return { op, pairs, push };
}

/** Moves an operator's watermark as the executor does: `advance` only when something is due. */
function watermark(op: TimedOperator, w: number): void {
  if (w <= op.wm) return;
  if (w >= op.nextDue) op.advance(w);
  else op.wm = w;
}

const ev = (side: "L" | "R", k: string, ts: number, id = `${side}${ts}`): Ev => ({ side, k, ts, id });

/**
 * Both sides from one topic (so one watermark, `max - 1` with maxOutOfOrderness 0), read in
 * order; returns the pairs and the job's late count.
 */
async function runJoin(events: Ev[], between: [number, number]) {
  const broker = new MemoryBroker();
  await broker.createTopic("in");
  await broker.produce(
    "in",
    events.map((e) => ({ key: e.k, value: e, timestamp: e.ts })),
  );
  const all = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { maxOutOfOrderness: 0 } });
  const left = all.filter((e) => e.side === "L").keyBy((e) => e.k);
  const right = all.filter((e) => e.side === "R").keyBy((e) => e.k);
  const p = left.join(right, { between }, (l, r) => `${l.id}+${r.id}`).to("out");
  const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
  await job.drain();
  return {
    pairs: (await broker.records<string>("out")).map((r) => [r.value, r.timestamp]),
    late: job.metrics().records.late,
  };
}

describe("interval join: Flink's boundaries, exactly", () => {
  it("a record at exactly the watermark is not late (Flink's isLate: timestamp < watermark)", async () => {
    // The minimal case: L(k, 10) moves the watermark to 9; R(k, 9) is at the watermark.
    // Flink's IntervalJoinOperator emits the pair; a `ts <= watermark` rule counted R late.
    expect(await runJoin([ev("L", "k", 10), ev("R", "k", 9)], [-5, 5])).toEqual({
      pairs: [["L10+R9", 10]],
      late: 0,
    });
    // One below the watermark is late.
    expect(await runJoin([ev("L", "k", 10), ev("R", "k", 8)], [-5, 5])).toEqual({ pairs: [], late: 1 });
  });

  it("a left record goes once the watermark reaches ts + max(upper, 0)", () => {
    // Flink's IntervalJoinOperator: the cleanup timer is at ourTimestamp + relativeUpperBound
    // (left: upper) when that is > 0, else at ourTimestamp; InternalTimerService fires it when
    // timestamp <= watermark, and onEventTime removes the buffered records of that timestamp.
    // L10 waits; then, with the watermark one below or at its cleanup time, a right record at
    // the watermark (not late) that L10 matches arrives.
    for (const [lower, upper, cleanup] of [
      [-5, 0, 10],
      [-5, 3, 13],
    ] as const)
      for (const wm of [cleanup - 1, cleanup]) {
        const { op, pairs, push } = join(lower, upper);
        push(ev("L", "k", 10));
        watermark(op, wm);
        push(ev("R", "k", wm));
        expect(pairs).toEqual(wm < cleanup ? [["L10", `R${wm}`, Math.max(10, wm)]] : []);
      }
  });

  it("a right record goes once the watermark reaches ts - min(lower, 0)", () => {
    // Flink: processElement2 passes relativeUpperBound = -lower, so the right side's cleanup
    // timer is at ts - lower when lower < 0, else at ts.
    for (const [lower, upper, cleanup] of [
      [-4, 2, 14],
      [0, 6, 10],
    ] as const)
      for (const wm of [cleanup - 1, cleanup]) {
        const { op, pairs, push } = join(lower, upper);
        push(ev("R", "k", 10));
        watermark(op, wm);
        push(ev("L", "k", wm));
        expect(pairs).toEqual(wm < cleanup ? [[`L${wm}`, "R10", Math.max(10, wm)]] : []);
      }
  });

  it("a record set at the watermark whose own cleanup time has come stays until the next advance", () => {
    // Flink: a timer registered at <= the current watermark fires at the next watermark.
    const { op, pairs, push } = join(-5, 0); // left cleanup at ts
    watermark(op, 10);
    push(ev("L", "k", 10)); // cleanup time 10 == watermark
    push(ev("R", "k", 10));
    expect(pairs).toEqual([["L10", "R10", 10]]);
    watermark(op, 11);
    expect(op.liveState().records).toBe(1); // R10 stays until 10 - min(-5, 0) = 15
  });

  it("matches come in the other side's arrival order, whatever their timestamps", () => {
    const { pairs, push } = join(-10, 10);
    push(ev("R", "k", 5, "r1"));
    push(ev("R", "k", 3, "r2"));
    push(ev("R", "k", 5, "r3"));
    push(ev("R", "k", 4, "r4"));
    push(ev("L", "k", 4, "l"));
    expect(pairs.map((p) => p[1])).toEqual(["r1", "r2", "r3", "r4"]);
  });
});

describe("interval join: buffers and cleanup heap proportional to keys and the interval", () => {
  it("a steady stream: buffered records bounded by the interval's worth, cleanup heap O(keys)", () => {
    fc.assert(
      fc.property(
        fc.record({
          keys: fc.integer({ min: 1, max: 4 }),
          lower: fc.integer({ min: -300, max: 100 }),
          width: fc.integer({ min: 0, max: 300 }),
          ooo: fc.integer({ min: 0, max: 20 }),
          jitter: fc.array(fc.nat({ max: 20 }), { minLength: 64, maxLength: 64 }),
        }),
        ({ keys, lower, width, ooo, jitter }) => {
          const upper = lower + width;
          const { op, push } = join(lower, upper);
          // Per side, how long a record may stay: until the watermark (max - ooo - 1) passes
          // its cleanup time, plus the records (one per tick and key) that disorder adds.
          const stay = Math.max(upper, 0) + Math.max(-lower, 0) + 2 * ooo + 2;
          let max = 0;
          let worst = { maxPerKey: 0, keys: 0, staleCleanups: Number.NEGATIVE_INFINITY };
          for (let t = 0; t < 800; t++)
            for (let k = 0; k < keys; k++)
              for (const side of ["L", "R"] as const) {
                const ts = Math.max(0, t - (jitter[(t * 7 + k) % 64]! % (ooo + 1)));
                push(ev(side, `k${k}`, ts));
                if (ts > max) max = ts;
                watermark(op, max - ooo - 1);
                const s = op.liveState();
                worst = {
                  maxPerKey: Math.max(worst.maxPerKey, s.maxPerKey),
                  keys: Math.max(worst.keys, s.keys),
                  staleCleanups: Math.max(worst.staleCleanups, s.cleanups - 2 * s.keys),
                };
              }
          expect(worst.maxPerKey).toBeLessThanOrEqual(stay);
          expect(worst.keys).toBeLessThanOrEqual(2 * keys);
          expect(worst.staleCleanups).toBeLessThanOrEqual(STALE_SLACK); // cleanups <= 2 x buffers + STALE_SLACK
          watermark(op, Number.POSITIVE_INFINITY);
          expect(op.liveState()).toEqual({ keys: 0, records: 0, maxPerKey: 0, cleanups: 0 });
        },
      ),
      { numRuns: 20 },
    );
  });

  it("pairs equal a brute-force join of the accepted records (random disorder, bounds, watermarks)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(
          fc.record({
            side: fc.constantFrom("L" as const, "R" as const),
            k: fc.constantFrom("a", "b"),
            ts: fc.integer({ min: 0, max: 100 }),
            wm: fc.integer({ min: -5, max: 100 }),
          }),
          { maxLength: 80 },
        ),
        (lower, width, steps) => {
          const upper = lower + width;
          const { op, pairs, push } = join(lower, upper);
          const want: [string, string, number][] = [];
          const kept: { e: Ev; cleanup: number }[] = [];
          steps.forEach((s, i) => {
            const e = ev(s.side, s.k, s.ts, `${s.side}${i}`);
            push(e);
            if (e.ts >= op.wm) {
              // Accepted: pairs with every kept record of the other side, in arrival order.
              for (const o of kept) {
                if (o.e.side === e.side || o.e.k !== e.k) continue;
                const [l, r] = e.side === "L" ? [e, o.e] : [o.e, e];
                if (r.ts >= l.ts + lower && r.ts <= l.ts + upper)
                  want.push([l.id, r.id, Math.max(l.ts, r.ts)]);
              }
              const cleanup = e.side === "L" ? e.ts + Math.max(upper, 0) : e.ts - Math.min(lower, 0);
              kept.push({ e, cleanup });
            }
            if (s.wm > op.wm) {
              watermark(op, s.wm);
              for (let j = kept.length - 1; j >= 0; j--) if (kept[j]!.cleanup <= s.wm) kept.splice(j, 1);
            }
          });
          expect(pairs).toEqual(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});
