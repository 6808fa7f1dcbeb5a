import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { avg, count, max, min, sum, topN } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { FakeClock } from "../testing/fake-clock.js";
import { tumbling } from "../time/windows.js";
import type { WindowResult } from "../types.js";
import { run } from "./job.js";

interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
}

const perMinute = () =>
  Pipeline.source<Click>("clicks", {
    timestamp: (c) => c.ts,
    watermark: { maxOutOfOrderness: 5_000, maxFutureSkew: 3_600_000 },
  })
    .filter((c) => c.kind === "click")
    .keyBy((c) => c.userId)
    .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: "clicks-late" })
    .aggregate(count())
    .to("clicks-per-minute");

const click = (userId: string, ts: number, kind: Click["kind"] = "click") => ({
  key: userId,
  value: { userId, kind, ts },
});

async function setup(partitions = 1) {
  const broker = new MemoryBroker();
  await broker.createTopic("clicks", { partitions });
  return broker;
}

describe("run: clicks per minute (DESIGN.md's example)", () => {
  it("windows, fires late updates within the lateness, side-outputs later ones, dead-letters bad input", async () => {
    const broker = await setup();
    await broker.produce<unknown>("clicks", [
      click("u1", 1_000),
      click("u2", 2_000),
      click("u1", 3_000, "view"),
      click("u1", 70_000), // watermark 64_999: [0, 60000) fires
      click("u1", 5_000), // late, within the 10 s lateness: fires again with 2
      { key: "u1", value: "{not json" },
      click("u1", 80_000), // watermark 74_999: [0, 60000) is dropped
      click("u1", 6_000), // too late: side output
      click("u9", 99_000_000), // more than an hour ahead of the watermark: dead-lettered
    ]);
    const job = await run(perMinute(), { broker, clock: new FakeClock(0) });
    await job.drain();
    const out = (await broker.records<WindowResult<string, number>>("clicks-per-minute")).map((r) => [
      r.key,
      r.timestamp,
      r.value,
    ]);
    expect(out).toEqual([
      ["u1", 59_999, { key: "u1", start: 0, end: 60_000, value: 1 }],
      ["u2", 59_999, { key: "u2", start: 0, end: 60_000, value: 1 }],
      ["u1", 59_999, { key: "u1", start: 0, end: 60_000, value: 2 }],
      ["u1", 119_999, { key: "u1", start: 60_000, end: 120_000, value: 2 }],
    ]);
    expect((await broker.records("clicks-late")).map((r) => r.value)).toEqual([
      { userId: "u1", kind: "click", ts: 6_000 },
    ]);
    const dlq = await broker.records("rivulet-dlq");
    expect(
      dlq.map((r) => [r.value, r.headers["rivulet.error.stage"], r.headers["rivulet.source.offset"]]),
    ).toEqual([
      ["{not json", "deserialize", "5"],
      [{ userId: "u9", kind: "click", ts: 99_000_000 }, "timestamp", "8"],
    ]);
    expect(dlq[1]!.headers["rivulet.error.reason"]).toMatch(/maxFutureSkew/);
    const m = job.metrics();
    expect(m.records).toEqual({ in: 9, emitted: 1, filtered: 1, aggregated: 4, late: 1, deadLettered: 2 });
    expect(m.windowsFired).toBe(4);
    expect(m.produced).toMatchObject({ "clicks-per-minute": 4, "clicks-late": 1, "rivulet-dlq": 2 });
    expect(m.status).toBe("stopped");
  });

  it("dead-letters missing, NaN, negative and non-numeric timestamps with the reason", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce("in", [
      { value: { ts: undefined } },
      { value: { ts: Number.NaN } },
      { value: { ts: -5 } },
      { value: { ts: "12" } },
      { value: { ts: 7 } },
      { value: null },
    ]);
    const p = Pipeline.source<{ ts: number }>("in", { timestamp: (v) => v.ts }).to("out");
    const job = await run(p, { broker, deadLetterTopic: "dead" });
    await job.drain();
    const reasons = (await broker.records("dead")).map((r) => r.headers["rivulet.error.reason"]);
    expect(reasons).toEqual([
      "timestamp is missing",
      "timestamp is NaN",
      "timestamp -5 is negative",
      "timestamp must be a number of epoch milliseconds, got string",
      expect.stringMatching(/timestamp function threw: TypeError/),
    ]);
    expect((await broker.records("out")).map((r) => r.value)).toEqual([{ ts: 7 }]);
    expect(job.metrics().records).toMatchObject({ in: 6, emitted: 1, deadLettered: 5 });
  });
});

describe("error policy for user functions", () => {
  const p = () =>
    Pipeline.source<number>("in")
      .map((n) => {
        if (n === 3) throw new Error("three is right out");
        return n * 10;
      })
      .to("out");

  it("fail: the job stops with an error naming the step, and commits nothing of the failed batch", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce(
      "in",
      [1, 2, 3, 4].map((value) => ({ value })),
    );
    const job = await run(p(), { broker });
    await expect(job.drain()).rejects.toThrow(/step 2 \(map\) threw: Error: three is right out/);
    expect(job.status).toBe("failed");
    await expect(job.done).rejects.toThrow(/three/);
    expect(await broker.records("out")).toEqual([]);
  });

  it("dead-letter: the record goes to the dead-letter topic with the step and reason; the rest flows", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce(
      "in",
      [1, 2, 3, 4].map((value) => ({ value })),
    );
    const job = await run(p(), { broker, onError: "dead-letter" });
    await job.drain();
    expect((await broker.records("out")).map((r) => r.value)).toEqual([10, 20, 40]);
    const [dead] = await broker.records("rivulet-dlq");
    expect(dead).toMatchObject({
      value: 3,
      headers: {
        "rivulet.error.stage": "process",
        "rivulet.error.step": "step 2 (map)",
        "rivulet.error.reason": "Error: three is right out",
        "rivulet.source.offset": "2",
      },
    });
    expect(job.metrics().records).toMatchObject({ in: 4, emitted: 3, deadLettered: 1 });
  });
});

describe("keys", () => {
  const keys = ["__proto__", "constructor", "", "ünï©ødé 🚀", "1", "01", "1.0", "toString", "hasOwnProperty"];

  it("aggregate correctly whatever they look like, windowed and rolling", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in", { partitions: 2 });
    const records = keys.flatMap((k, i) =>
      Array.from({ length: i + 1 }, (_, j) => ({ key: k, value: { k, n: j + 1, ts: j } })),
    );
    await broker.produce("in", records);
    const src = Pipeline.source<{ k: string; n: number; ts: number }>("in", { timestamp: (v) => v.ts }).keyBy(
      (v) => v.k,
    );
    const job = await run(
      Pipeline.all(
        src
          .window(tumbling(1000))
          .aggregate({
            n: count(),
            total: sum((v) => v.n),
            lo: min((v) => v.n),
            hi: max((v) => v.n),
            mean: avg((v) => v.n),
          })
          .to("win"),
        src.aggregate(count()).to("rolling"),
      ),
      { broker },
    );
    await job.drain();
    const win = new Map(
      (await broker.records<WindowResult<string, any>>("win")).map((r) => [r.value.key, r.value.value]),
    );
    expect(win.size).toBe(keys.length);
    keys.forEach((k, i) => {
      const n = i + 1;
      expect(win.get(k)).toEqual({ n, total: (n * (n + 1)) / 2, lo: 1, hi: n, mean: (n + 1) / 2 });
    });
    const rolling = new Map<string, number>();
    for (const r of await broker.records<{ key: string; value: number }>("rolling"))
      rolling.set(r.value.key, r.value.value);
    expect([...rolling.entries()].sort()).toEqual(keys.map((k, i) => [k, i + 1]).sort());
  });

  it("numbers and numeric-looking strings stay distinct keys", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce<number | string>("in", [{ value: 1 }, { value: "1" }, { value: 1 }]);
    // Strings are JSON text to the default deserializer; take the values as they are.
    const p = Pipeline.source<number | string>("in", {
      value: (raw) => raw as number | string,
      timestamp: () => 0,
    })
      .keyBy((v) => v)
      .window(tumbling(10))
      .aggregate(count())
      .to("out");
    const job = await run(p, { broker });
    await job.drain();
    // Numbers sort before strings when windows fire together.
    expect(
      (await broker.records<WindowResult<number | string, number>>("out")).map((r) => [
        r.value.key,
        r.value.value,
      ]),
    ).toEqual([
      [1, 2],
      ["1", 1],
    ]);
  });
});

describe("aggregators", () => {
  it("topN keeps the largest, in order, ties by arrival", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("bids");
    const prices = [5, 1, 9, 5, 7, 9, 0];
    await broker.produce(
      "bids",
      prices.map((price, id) => ({ value: { id, price, ts: id } })),
    );
    const p = Pipeline.source<{ id: number; price: number; ts: number }>("bids", { timestamp: (b) => b.ts })
      .keyBy(() => "all")
      .window(tumbling(100))
      .aggregate(topN(3, (b) => b.price))
      .map((r) => r.value.map((b) => b.id))
      .to("top");
    const job = await run(p, { broker });
    await job.drain();
    expect((await broker.records("top")).map((r) => r.value)).toEqual([[2, 5, 4]]);
  });

  it("a minimum of 0 is a minimum", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce(
      "in",
      [3, 0, 2].map((value) => ({ value })),
    );
    const p = Pipeline.source<number>("in", { timestamp: () => 1 })
      .keyBy(() => "k")
      .window(tumbling(10))
      .aggregate(min((x) => x))
      .to("out");
    const job = await run(p, { broker });
    await job.drain();
    expect((await broker.records<WindowResult<string, number>>("out"))[0]!.value.value).toBe(0);
  });
});

describe("run: source records", () => {
  it("a timestamp function that declares the record gets it: key, headers, offset, broker timestamp", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("in");
    await broker.produce("in", [
      { key: "a", value: { n: 1 }, timestamp: 500, headers: { at: "7000" } },
      { key: "b", value: { n: 2 }, timestamp: 600 },
    ]);
    const seen: string[] = [];
    const p = Pipeline.source<{ n: number }>("in", {
      timestamp: (v, r) => {
        seen.push(`${v.n}:${r.key}:${r.offset}:${r.timestamp}:${r.headers.at ?? "-"}`);
        return Number(r.headers.at ?? r.timestamp);
      },
    })
      .map((v) => v.n)
      .to("out");
    const job = await run(p, { broker });
    await job.drain();
    expect(seen).toEqual(["1:a:0:500:7000", "2:b:1:600:-"]);
    expect((await broker.records("out")).map((r) => [r.value, r.timestamp])).toEqual([
      [1, 7000],
      [2, 600],
    ]);
  });
});
