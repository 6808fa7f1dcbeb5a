import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { partitionForKey } from "../broker/partitioner.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { outputTag } from "../pipeline/plan.js";
import { FakeClock } from "../testing/fake-clock.js";
import { sliding, tumbling } from "../time/windows.js";
import { describePipeline } from "./describe.js";
import { run } from "./job.js";

interface Click {
  userId: string;
  ts: number;
}

const clicks = () =>
  Pipeline.source<Click>("clicks", { timestamp: (c) => c.ts, watermark: { maxOutOfOrderness: 5_000 } });

describe("describePipeline", () => {
  it("lists the steps with their ids, inputs, topics, windows and late outputs, as plain data", () => {
    const p = clicks()
      .filter((c) => c.userId !== "")
      .keyBy((c) => c.userId)
      .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: "clicks-late" })
      .aggregate(count())
      .to("clicks-per-minute");
    const d = describePipeline(p);
    expect(d.sources).toEqual(["clicks"]);
    expect(d.outputs.sort()).toEqual(["clicks-late", "clicks-per-minute"]);
    expect(d.steps.map((s) => s.kind)).toEqual(["source", "filter", "keyBy", "window", "sink"]);
    const [source, filter, keyBy, window, sink] = d.steps;
    expect(source).toMatchObject({
      id: "source:clicks",
      topic: "clicks",
      watermark: { maxOutOfOrderness: 5_000 },
    });
    expect(filter!.inputs).toEqual([source!.id]);
    expect(keyBy!.keyed).toBe(true);
    expect(window).toMatchObject({
      id: "window tumbling(60000)@clicks",
      window: "tumbling(60000)",
      allowedLateness: 10_000,
      lateTo: "clicks-late",
      inputs: [keyBy!.id],
    });
    expect(sink).toMatchObject({ topic: "clicks-per-minute", inputs: [window!.id] });
    // Crosses a worker boundary: nothing but data.
    expect(structuredClone(d)).toEqual(d);
  });

  it("describes joins, side outputs and several sinks", () => {
    const late = outputTag<Click>("odd");
    const left = clicks().keyBy((c) => c.userId);
    const right = Pipeline.source<Click>("views", { timestamp: (c) => c.ts }).keyBy((c) => c.userId);
    const joined = left.join(right, { between: [0, 20_000] }, (a, b) => ({ a, b }));
    const processed = clicks()
      .keyBy((c) => c.userId)
      .process<Click>({
        onRecord(v, ctx) {
          if (v.ts % 2) ctx.output(late, v);
          else ctx.emit(v);
        },
      });
    const windowed = clicks()
      .keyBy((c) => c.userId)
      .window(sliding(10_000, 5_000))
      .aggregate(count());
    const d = describePipeline(
      Pipeline.all(joined.to("pairs"), processed.sideOutput(late).to("odd"), windowed.to("counts")),
    );
    expect(d.sources).toEqual(["clicks", "views"]);
    expect(d.outputs.sort()).toEqual(["counts", "odd", "pairs"]);
    const join = d.steps.find((s) => s.kind === "intervalJoin")!;
    expect(join.between).toEqual([0, 20_000]);
    expect(join.inputs).toHaveLength(2);
    expect(d.steps.find((s) => s.kind === "sideOutput")!.tag).toBe("odd");
    expect(d.steps.find((s) => s.kind === "window")).toMatchObject({ window: "sliding(10000, 5000)" });
    expect(new Set(d.steps.map((s) => s.id)).size).toBe(d.steps.length);
  });
});

describe("JobMetrics.operators", () => {
  const pipeline = () =>
    clicks()
      .keyBy((c) => c.userId)
      .window(tumbling(60_000))
      .aggregate(count())
      .to("counts");

  it("reports each event-time operator's watermark", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("clicks", { partitions: 2 });
    await broker.produce("clicks", [
      { key: "a", value: { userId: "a", ts: 20_000 }, partition: 0 },
      { key: "b", value: { userId: "b", ts: 50_000 }, partition: 1 },
    ]);
    const job = await run(pipeline(), { broker, manual: true, clock: new FakeClock(0) });
    expect(job.metrics().operators).toEqual([
      {
        id: "window tumbling(60000)@clicks",
        label: "step 3 (window tumbling(60000) aggregate)",
        watermark: -Infinity,
      },
    ]);
    await job.runFor({});
    // The minimum over both partitions: 20 000 - 5 000 - 1.
    expect(job.metrics().operators).toEqual([
      {
        id: "window tumbling(60000)@clicks",
        label: "step 3 (window tumbling(60000) aggregate)",
        watermark: 14_999,
      },
    ]);
    expect(job.metrics().watermark).toBe(14_999);
    await job.stop();
  });

  it("per task with per-partition tasks", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("clicks", { partitions: 2 });
    // Keys on partition 0 and 1, as Kafka's partitioner places them.
    const users = ["a", "b", "c", "d", "e", "f"];
    const on0 = users.find((u) => partitionForKey(u, 2) === 0)!;
    const on1 = users.find((u) => partitionForKey(u, 2) === 1)!;
    await broker.produce("clicks", [
      { key: on0, value: { userId: on0, ts: 20_000 } },
      { key: on1, value: { userId: on1, ts: 50_000 } },
    ]);
    const job = await run(pipeline(), {
      broker,
      manual: true,
      tasks: "per-partition",
      clock: new FakeClock(0),
    });
    await job.runFor({});
    const ops = job.metrics().operators.sort((x, y) => x.task! - y.task!);
    expect(ops.map((o) => [o.task, o.watermark])).toEqual([
      [0, 14_999],
      [1, 44_999],
    ]);
    await job.stop();
  });
});
