import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { Pipeline } from "../pipeline/builder.js";
import type { ProcessContext, ProcessFunction, ProcessNode } from "../pipeline/plan.js";
import { RuntimeContext } from "../runtime/context.js";
import { run } from "../runtime/job.js";
import { valueState } from "../state/descriptors.js";
import { FakeClock } from "../testing/fake-clock.js";
import { STALE_SLACK } from "../time/heap.js";
import type { Key } from "../types.js";
import type { TimedOperator } from "./operator.js";
import { ProcessOperator } from "./process-function.js";

type Ev = { k: string; ts: number };

/** A process step on its own, with a clock; `out` collects what it emits. */
function processStep(fn: ProcessFunction<Key, unknown, unknown>) {
  const out: unknown[] = [];
  const clock = new FakeClock(0);
  const node = { kind: "process", fn, label: "process", step: 2, keyed: true } as unknown as ProcessNode;
  const rt = new RuntimeContext(clock, "fail", "dlq");
  const op = new ProcessOperator("p", node, rt, (v) => out.push(v), new Map());
  return { op, out, clock };
}

/** Moves an operator's watermark as the executor does: `advance` only when something is due. */
function watermark(op: TimedOperator, w: number): void {
  if (w <= op.wm) return;
  if (w >= op.nextDue) op.advance(w);
  else op.wm = w;
}

/** Moves processing time as the executor does: `onProcessingTime` once something is due. */
function processingTime(op: TimedOperator, now: number): void {
  if (now >= (op.nextProcessingDue ?? Number.POSITIVE_INFINITY)) op.onProcessingTime?.(now);
}

const lastEvent = valueState<number>("lastEvent");
const lastProcessing = valueState<number>("lastProcessing");

/**
 * The inactivity pattern: every record deletes its key's previous timers and sets new ones
 * `gap` later (event time and processing time); a timer that fires emits `[key, domain, time]`.
 */
const inactivity = (gap: number): ProcessFunction<Key, unknown, unknown> => ({
  onRecord(_v: unknown, ctx: ProcessContext<Key, unknown>) {
    const e = ctx.state(lastEvent);
    const old = e.get();
    if (old !== undefined) ctx.timers.deleteEventTime(old);
    ctx.timers.eventTime(ctx.timestamp + gap);
    e.set(ctx.timestamp + gap);
    const p = ctx.state(lastProcessing);
    const oldP = p.get();
    if (oldP !== undefined) ctx.timers.deleteProcessingTime(oldP);
    ctx.timers.processingTime(ctx.now() + gap);
    p.set(ctx.now() + gap);
  },
  onTimer(t: number, ctx: ProcessContext<Key, unknown>) {
    ctx.emit([ctx.key, ctx.timeDomain, t]);
    ctx.state(ctx.timeDomain === "event" ? lastEvent : lastProcessing).clear();
  },
});

describe("process: Flink's timer boundaries, exactly", () => {
  it("an event-time timer fires when the watermark reaches its time, not before", async () => {
    // Flink's InternalTimerServiceImpl.advanceWatermark: fires timers with timestamp <= watermark.
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const p = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .process<string>({
        onRecord(e, ctx) {
          if (e.k === "timer") ctx.timers.eventTime(100);
        },
        onTimer(t, ctx) {
          ctx.emit(`${t} at watermark ${ctx.watermark()}`);
        },
      })
      .to("out");
    const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
    const send = async (k: string, ts: number) => {
      await broker.produce("in", [{ key: k, value: { k, ts } }]);
      await job.flush();
      return (await broker.records<string>("out")).map((r) => r.value);
    };
    await send("timer", 0);
    expect(await send("other", 100)).toEqual([]); // watermark 99 (maxOutOfOrderness 0: max - 1)
    expect(await send("other", 101)).toEqual(["100 at watermark 100"]);
    await job.stop();
  });

  it("an event-time timer set at or before the watermark fires at the next watermark advance", () => {
    // Flink: registerEventTimeTimer puts it in the queue; advanceWatermark fires it next time.
    const { op, out } = processStep({
      onRecord(_v, ctx) {
        ctx.timers.eventTime(ctx.watermark() - 5);
      },
      onTimer(t, ctx) {
        ctx.emit([t, ctx.watermark()]);
      },
    });
    watermark(op, 50);
    op.push(null, 60, "a"); // a timer at 45
    expect(out).toEqual([]);
    watermark(op, 51);
    expect(out).toEqual([[45, 51]]);
  });

  it("a processing-time timer fires when the clock reaches its time, not before", () => {
    // Flink's InternalTimerServiceImpl.onProcessingTime: fires timers with timestamp <= time.
    const { op, out, clock } = processStep({
      onRecord(_v, ctx) {
        ctx.timers.processingTime(ctx.now() + 1_000);
      },
      onTimer(t, ctx) {
        ctx.emit([ctx.timeDomain, t]);
      },
    });
    clock.set(5);
    op.push(null, 0, "a");
    processingTime(op, 1_004);
    expect(out).toEqual([]);
    processingTime(op, 1_005);
    expect(out).toEqual([["processing", 1_005]]);
  });
});

describe("process: timer heaps proportional to live timers, not records", () => {
  it("resetting an inactivity timer on every record: heap entries O(keys), both domains", () => {
    const keys = 3;
    const { op, out, clock } = processStep(inactivity(1_000));
    for (let i = 0; i < 20_000; i++) {
      clock.set(i);
      op.push(null, i, `k${i % keys}`);
      watermark(op, i - 1);
      processingTime(op, i);
      const s = op.liveState();
      expect(s.eventTimers.live).toBe(Math.min(i + 1, keys));
      expect(s.processingTimers.live).toBe(Math.min(i + 1, keys));
      expect(s.eventTimers.heap).toBeLessThanOrEqual(2 * keys + STALE_SLACK);
      expect(s.processingTimers.heap).toBeLessThanOrEqual(2 * keys + STALE_SLACK);
    }
    expect(out).toEqual([]); // every timer was reset before its time
    watermark(op, Number.POSITIVE_INFINITY);
    processingTime(op, Number.POSITIVE_INFINITY);
    // The last timer of each key, and no deleted one.
    expect(out).toEqual([
      ["k2", "event", 20_997],
      ["k0", "event", 20_998],
      ["k1", "event", 20_999],
      ["k2", "processing", 20_997],
      ["k0", "processing", 20_998],
      ["k1", "processing", 20_999],
    ]);
    expect(op.liveState().eventTimers).toEqual({ live: 0, heap: 0 });
  });

  it("random sets and deletes: heap entries <= 2 x live timers + STALE_SLACK, and only live timers fire", () => {
    const op = fc.record({
      key: fc.integer({ min: 0, max: 4 }),
      at: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 500 })),
      /** Times (from now) to delete, some of them set before. */
      del: fc.array(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 500 })), {
        maxLength: 3,
      }),
      /** Deletes every live timer of the key first (the inactivity pattern). */
      reset: fc.boolean(),
      domain: fc.constantFrom("event" as const, "processing" as const),
      tick: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 400 }), (ops) => {
        type Cmd = (typeof ops)[number];
        const live = new Map<string, Set<number>>(); // the model: `${domain} ${key}` -> times
        const fired: [string, string, number][] = [];
        const step = processStep({
          onRecord(c: unknown, ctx) {
            const cmd = c as Cmd;
            const base = cmd.domain === "event" ? ctx.timestamp : ctx.now();
            const set = cmd.domain === "event" ? ctx.timers.eventTime : ctx.timers.processingTime;
            const del = cmd.domain === "event" ? ctx.timers.deleteEventTime : ctx.timers.deleteProcessingTime;
            const mine = live.get(`${cmd.domain} ${ctx.key}`) ?? new Set();
            live.set(`${cmd.domain} ${ctx.key}`, mine);
            if (cmd.reset) for (const x of [...mine]) del(x);
            if (cmd.reset) mine.clear();
            for (const d of cmd.del) {
              del(base + d);
              mine.delete(base + d);
            }
            set(base + cmd.at);
            mine.add(base + cmd.at);
          },
          onTimer(t, ctx) {
            fired.push([ctx.timeDomain!, String(ctx.key), t]);
            expect(live.get(`${ctx.timeDomain} ${ctx.key}`)?.delete(t)).toBe(true);
          },
        });
        let t = 0;
        for (const c of ops) {
          t += c.tick;
          step.clock.set(t);
          step.op.push(c, t, c.key);
          watermark(step.op, t - 10);
          processingTime(step.op, t - 5);
          const s = step.op.liveState();
          for (const q of [s.eventTimers, s.processingTimers])
            expect(q.heap).toBeLessThanOrEqual(2 * q.live + STALE_SLACK);
          const modelLive = { event: 0, processing: 0 };
          for (const [k, times] of live)
            modelLive[k.startsWith("event") ? "event" : "processing"] += times.size;
          expect([s.eventTimers.live, s.processingTimers.live]).toEqual([
            modelLive.event,
            modelLive.processing,
          ]);
        }
        watermark(step.op, Number.POSITIVE_INFINITY);
        processingTime(step.op, Number.POSITIVE_INFINITY);
        for (const times of live.values()) expect(times.size).toBe(0); // every live timer fired once
      }),
      { numRuns: 200 },
    );
  });
});
