import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { count, sum } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { valueState } from "../state/descriptors.js";
import { FakeClock } from "../testing/fake-clock.js";
import { session, tumbling } from "../time/windows.js";
import { run } from "./job.js";

type Ev = { k: string; ts: number; n: number };

describe("job.query(key): what a job's stateful steps hold for one key", () => {
  it("windows, sessions, rolling results, process state and timers, join buffers, by operator id", async () => {
    const broker = new MemoryBroker();
    for (const t of ["in", "other"]) await broker.createTopic(t);
    const ev = (k: string, ts: number, n = 1) => ({ key: k, value: { k, ts, n } });
    await broker.produce("in", [ev("a", 10, 2), ev("a", 15, 3), ev("b", 12), ev("a", 40)]);
    await broker.produce("other", [ev("a", 11, 7)]);
    const src = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { maxOutOfOrderness: 100 } });
    const keyed = src.keyBy((e) => e.k);
    const other = Pipeline.source<Ev>("other", {
      timestamp: (e) => e.ts,
      watermark: { maxOutOfOrderness: 100 },
    }).keyBy((e) => e.k);
    const last = valueState<number>("last");
    const p = Pipeline.all(
      keyed
        .window(tumbling(20))
        .aggregate(sum((e) => e.n))
        .to("win"),
      keyed.window(session(10)).aggregate(count()).uid("sessions").to("sess"),
      keyed.aggregate(count()).to("roll"),
      keyed
        .process<number>({
          onRecord(e, ctx) {
            ctx.state(last).set(e.ts);
            ctx.timers.eventTime(e.ts + 100);
          },
        })
        .to("proc"),
      keyed.join(other, { between: [-50, 50] }, (x, y) => x.n + y.n).to("join"),
    );
    const job = await run(p, { broker, manual: true, clock: new FakeClock(0) });
    await job.flush();
    expect(job.query("a")).toEqual({
      "window tumbling(20)@in": [
        { start: 0, end: 20, fired: false, value: 5 },
        { start: 40, end: 60, fired: false, value: 1 },
      ],
      sessions: [
        { start: 10, end: 25, fired: false, value: 2 },
        { start: 40, end: 50, fired: false, value: 1 },
      ],
      "rolling@in": 3,
      "process@in": { state: { "value:last": 40 }, eventTimers: [110, 115, 140], processingTimers: [] },
      "intervalJoin@in+other": {
        left: [
          { value: { k: "a", ts: 10, n: 2 }, timestamp: 10 },
          { value: { k: "a", ts: 15, n: 3 }, timestamp: 15 },
          { value: { k: "a", ts: 40, n: 1 }, timestamp: 40 },
        ],
        right: [{ value: { k: "a", ts: 11, n: 7 }, timestamp: 11 }],
      },
    });
    expect(job.query("nobody")).toEqual({});
    // Per-partition tasks answer the same.
    const perPartition = await run(p, { broker, manual: true, group: "pp", tasks: "per-partition" });
    await perPartition.flush();
    expect(perPartition.query("b")).toEqual(job.query("b"));
    await job.drain();
    expect(job.query("a")).toEqual({
      "rolling@in": 3,
      "process@in": { state: { "value:last": 40 }, eventTimers: [], processingTimers: [] },
    });
  });
});
