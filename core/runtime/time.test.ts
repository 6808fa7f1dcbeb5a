import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { outputTag } from "../pipeline/plan.js";
import { listState, mapState, valueState } from "../state/descriptors.js";
import { FakeClock } from "../testing/fake-clock.js";
import { tumbling } from "../time/windows.js";
import type { WindowResult } from "../types.js";
import { run } from "./job.js";

type Ev = { k: string; ts: number };
const ev = (k: string, ts: number, partition: number) => ({ key: k, value: { k, ts }, partition });

describe("watermarks across partitions", () => {
  const windowed = (idleTimeout?: number) =>
    Pipeline.source<Ev>("in", {
      timestamp: (e) => e.ts,
      watermark: idleTimeout === undefined ? {} : { idleTimeout },
    })
      .keyBy((e) => e.k)
      .window(tumbling(10))
      .aggregate(count())
      .to("out");

  it("the operator watermark is the minimum over partitions: a slow partition holds windows back", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    await broker.produce("in", [ev("a", 1, 0), ev("a", 50, 0), ev("b", 2, 1)]);
    const job = await run(windowed(), { broker, manual: true, clock: new FakeClock(0) });
    await job.flush();
    expect(await broker.records("out")).toEqual([]); // partition 1 is at 1: nothing may fire
    expect(job.metrics().watermark).toBe(1);
    await broker.produce("in", [ev("b", 30, 1)]);
    await job.flush();
    expect(
      (await broker.records<WindowResult<string, number>>("out")).map((r) => [
        r.value.key,
        r.value.end,
        r.value.value,
      ]),
    ).toEqual([
      ["a", 10, 1],
      ["b", 10, 1],
    ]);
    const parts = job.metrics().partitions.map((p) => p.watermarks[0]!.watermark);
    expect(parts).toEqual([49, 29]);
  });

  it("an idle partition stops holding the watermark back after idleTimeout (processing time)", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    await broker.produce("in", [ev("a", 1, 0), ev("a", 50, 0)]);
    const clock = new FakeClock(1_000);
    const job = await run(windowed(5_000), { broker, manual: true, clock });
    await job.flush();
    expect(await broker.records("out")).toEqual([]);
    clock.advance(5_000);
    await job.flush();
    expect((await broker.records<WindowResult<string, number>>("out")).map((r) => r.value.end)).toEqual([10]);
    expect(job.metrics().partitions.map((p) => p.watermarks[0]!.idle)).toEqual([true, true]);
    // Records wake the partition; the watermark never goes back, so old records are late.
    await broker.produce("in", [ev("b", 3, 1)]);
    await job.flush();
    expect(job.metrics().records.late).toBe(1);
  });
});

describe("process: keyed state, timers, side outputs", () => {
  it("value, map and list state per key, event-time timers in (time, key) order", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const seen = valueState<number>("seen", 0);
    const firsts = mapState<string, number>("firsts");
    const all = listState<number>("all");
    const p = Pipeline.source<Ev & { tag: string }>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .process<string>({
        onRecord(e, ctx) {
          const n = ctx.state(seen);
          n.set((n.get() ?? 0) + 1);
          const f = ctx.state(firsts);
          if (!f.has(e.tag)) f.set(e.tag, e.ts);
          ctx.state(all).add(e.ts);
          ctx.timers.eventTime(e.ts + 100); // one per key and time: deduplicated
          ctx.timers.eventTime(e.ts + 100);
        },
        onTimer(t, ctx) {
          const f = [...ctx.state(firsts).entries()].map(([tag, ts]) => `${tag}@${ts}`).join(",");
          ctx.emit(
            `${ctx.key} t=${t} wm=${ctx.watermark()} n=${ctx.state(seen).get()} firsts=${f} all=${ctx.state(all).get()}`,
          );
          ctx.state(all).clear();
        },
      })
      .to("out");
    await broker.produce("in", [
      { value: { k: "b", ts: 10, tag: "x" } },
      { value: { k: "a", ts: 10, tag: "x" } },
      { value: { k: "a", ts: 20, tag: "y" } },
      { value: { k: "a", ts: 25, tag: "x" } },
      { value: { k: "c", ts: 500, tag: "z" } },
    ]);
    const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
    await job.drain();
    expect((await broker.records("out")).map((r) => [r.value, r.timestamp])).toEqual([
      ["a t=110 wm=499 n=3 firsts=x@10,y@20 all=10,20,25", 110],
      ["b t=110 wm=499 n=1 firsts=x@10 all=10", 110],
      ["a t=120 wm=499 n=3 firsts=x@10,y@20 all=", 120],
      ["a t=125 wm=499 n=3 firsts=x@10,y@20 all=", 125],
      ["c t=600 wm=Infinity n=1 firsts=z@500 all=500", 600],
    ]);
    expect(job.metrics().records).toMatchObject({ in: 5, aggregated: 5 });
  });

  it("processing-time timers fire as the clock moves; deleted timers do not", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const clock = new FakeClock(1_000);
    const p = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts })
      .keyBy((e) => e.k)
      .process<string>({
        onRecord(e, ctx) {
          ctx.timers.processingTime(ctx.now() + 60_000);
          if (e.k === "cancel") ctx.timers.deleteProcessingTime(ctx.now() + 60_000);
        },
        onTimer(t, ctx) {
          ctx.emit(`${ctx.key} ${ctx.timeDomain} ${t}`);
        },
      })
      .to("out");
    await broker.produce("in", [{ value: { k: "x", ts: 1 } }, { value: { k: "cancel", ts: 2 } }]);
    const job = await run(p, { broker, manual: true, clock });
    await job.flush();
    clock.advance(59_999);
    await job.flush();
    expect(await broker.records("out")).toEqual([]);
    clock.advance(1);
    await job.flush();
    expect((await broker.records("out")).map((r) => r.value)).toEqual(["x processing 61000"]);
    await job.stop();
  });

  it("side outputs reach their own sinks", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    const odd = outputTag<number>("odd");
    const processed = Pipeline.source<number>("in", { timestamp: () => 0 })
      .keyBy((n) => n % 3)
      .process<number>({
        onRecord(n, ctx) {
          if (n % 2) ctx.output(odd, n);
          else ctx.emit(n);
        },
      });
    await broker.produce(
      "in",
      [1, 2, 3, 4].map((value) => ({ value })),
    );
    const job = await run(
      Pipeline.all(
        processed.to("even"),
        processed
          .sideOutput(odd)
          .map((n) => -n)
          .to("odd"),
      ),
      { broker },
    );
    await job.drain();
    expect((await broker.records("even")).map((r) => [r.key, r.value])).toEqual([
      ["2", 2],
      ["1", 4],
    ]);
    expect((await broker.records("odd")).map((r) => r.value)).toEqual([-1, -3]);
  });
});

describe("stateless operators", () => {
  it("flatMap, union and rolling reduce", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("a");
    await broker.createTopic("b");
    await broker.produce("a", [{ value: "x y" }, { value: "" }, { value: "y" }]);
    await broker.produce("b", [{ value: "x" }]);
    const words = (t: string) =>
      Pipeline.source<string>(t, { value: (raw) => String(raw), timestamp: () => 0 }).flatMap((s) =>
        s.split(" ").filter(Boolean),
      );
    const p = words("a")
      .union(words("b"))
      .map((w) => ({ w, n: 1 }))
      .keyBy((x) => x.w)
      .reduce((acc, x) => ({ w: acc.w, n: acc.n + x.n }))
      .to("counts");
    const job = await run(p, { broker });
    await job.drain();
    expect((await broker.records("counts")).map((r) => [r.key, r.value])).toEqual([
      ["x", { w: "x", n: 1 }],
      ["y", { w: "y", n: 1 }],
      ["y", { w: "y", n: 2 }],
      ["x", { w: "x", n: 2 }],
    ]);
    // "" produced no words: filtered; every other input record emitted something.
    expect(job.metrics().records).toEqual({
      in: 4,
      emitted: 3,
      filtered: 1,
      aggregated: 0,
      late: 0,
      deadLettered: 0,
    });
  });
});
