import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../broker/memory-broker.js";
import { count } from "../operators/aggregators.js";
import { Pipeline } from "../pipeline/builder.js";
import { listState, mapState, valueState } from "../state/descriptors.js";
import { sliding, tumbling } from "../time/windows.js";
import type { StoredRecord } from "../types.js";
import { run } from "./job.js";
import { type Limits, utf8Bytes, valueBytes } from "./limits.js";

interface Ev {
  k: string;
  ts: number;
  pad?: string;
}

async function broker(values: Ev[]) {
  const b = new MemoryBroker();
  await b.createTopic("in");
  await b.produce(
    "in",
    values.map((v) => ({ key: v.k, value: v })),
  );
  return b;
}

const source = () => Pipeline.source<Ev>("in", { timestamp: (e) => e.ts });

/** The job's accounting identity, and the dead letters' stages and reasons. */
async function outcome(b: MemoryBroker, job: Awaited<ReturnType<typeof run>>) {
  const r = job.metrics().records;
  expect(r.in).toBe(r.emitted + r.filtered + r.aggregated + r.late + r.deadLettered);
  const dlq = await b.records<Ev>("rivulet-dlq").catch(() => [] as StoredRecord<Ev>[]);
  return {
    records: r,
    dead: dlq.map((d) => ({
      k: d.value.k,
      stage: d.headers?.["rivulet.error.stage"],
      reason: d.headers?.["rivulet.error.reason"],
    })),
  };
}

const evs = (keys: string[], ts = 1) => keys.map((k) => ({ k, ts }));

describe("limits: bad input meets a clear reason, never unbounded memory", () => {
  it("maxRecordBytes: a larger record goes to the dead-letter topic (stage limit), the rest run", async () => {
    const b = await broker([
      { k: "a", ts: 1 },
      { k: "big", ts: 2, pad: "x".repeat(5_000) },
      { k: "b", ts: 3 },
    ]);
    const job = await run(source().to("out"), { broker: b, limits: { maxRecordBytes: 1_000 } });
    await job.drain();
    expect((await b.records<Ev>("out")).map((r) => r.value.k)).toEqual(["a", "b"]);
    const { records, dead } = await outcome(b, job);
    expect(records).toMatchObject({ in: 3, emitted: 2, deadLettered: 1 });
    expect(dead).toEqual([
      {
        k: "big",
        stage: "limit",
        reason: expect.stringMatching(/5\d{3} bytes: limits\.maxRecordBytes is 1000/),
      },
    ]);
  });

  it("maxKeysPerOperator: a rolling aggregate holds at most that many keys; the records of others are dead-lettered", async () => {
    const b = await broker(evs(["a", "b", "a", "c", "d", "b", "e"]));
    const job = await run(
      source()
        .keyBy((e) => e.k)
        .aggregate(count())
        .to("out"),
      {
        broker: b,
        limits: { maxKeysPerOperator: 2 },
      },
    );
    await job.drain();
    const out = (await b.records<{ key: string; value: number }>("out")).map((r) => r.value);
    expect(out).toEqual([
      { key: "a", value: 1 },
      { key: "b", value: 1 },
      { key: "a", value: 2 },
      { key: "b", value: 2 },
    ]);
    const { dead } = await outcome(b, job);
    expect(dead.map((d) => d.k)).toEqual(["c", "d", "e"]);
    expect(dead[0]).toMatchObject({
      stage: "limit",
      reason: expect.stringMatching(/holds 2 keys already: limits\.maxKeysPerOperator is 2/),
    });
    expect(await job.query("c")).toEqual({});
    expect(Object.values(await job.query("a"))).toEqual([2]);
  });

  it("maxKeysPerOperator: a window counts keys per window (a new window takes new keys)", async () => {
    const b = await broker([...evs(["a", "b", "c"], 1_000), ...evs(["c", "d"], 61_000)]);
    const job = await run(
      source()
        .keyBy((e) => e.k)
        .window(tumbling(60_000))
        .aggregate(count())
        .to("out"),
      { broker: b, limits: { maxKeysPerOperator: 2 } },
    );
    await job.drain();
    const out = (await b.records<{ key: string; start: number }>("out")).map(
      (r) => `${r.value.start}:${r.value.key}`,
    );
    expect(out.sort()).toEqual(["0:a", "0:b", "60000:c", "60000:d"]);
    expect((await outcome(b, job)).dead.map((d) => d.k)).toEqual(["c"]);
  });

  it("maxKeysPerOperator with sliding windows: a record every one of its windows cannot take changes none", async () => {
    // Windows of 60 s every 30 s: ts 40_000 falls in [0, 60000) and [30000, 90000).
    const b = await broker([
      { k: "a", ts: 10_000 },
      { k: "b", ts: 10_000 },
      { k: "c", ts: 40_000 },
    ]);
    const job = await run(
      source()
        .keyBy((e) => e.k)
        .window(sliding(60_000, 30_000))
        .aggregate(count())
        .to("out"),
      { broker: b, limits: { maxKeysPerOperator: 2 } },
    );
    await job.drain();
    // [0, 60000) holds a and b: c is refused there, so it is not in [30000, 90000) either.
    const out = (await b.records<{ key: string; start: number }>("out")).map(
      (r) => `${r.value.start}:${r.value.key}`,
    );
    expect(out.sort()).toEqual(["-30000:a", "-30000:b", "0:a", "0:b"]);
    expect((await outcome(b, job)).records).toMatchObject({ in: 3, aggregated: 2, deadLettered: 1 });
  });

  it("maxKeysPerOperator and maxStateBytesPerKey in a process function: the write throws, the record is dead-lettered, state unchanged", async () => {
    const seen = listState<string>("seen");
    const last = valueState<string>("last");
    const tags = mapState<string, number>("tags");
    const b = await broker([
      { k: "a", ts: 1, pad: "1" },
      { k: "a", ts: 2, pad: "2".repeat(40) },
      { k: "a", ts: 3, pad: "3" },
      { k: "b", ts: 4, pad: "4" },
      { k: "c", ts: 5, pad: "5" },
    ]);
    const job = await run(
      source()
        .keyBy((e) => e.k)
        .process<string>({
          onRecord(e, ctx) {
            ctx.state(last).set(e.pad ?? "");
            ctx.state(seen).add(e.pad ?? "");
            ctx.state(tags).set(e.pad ?? "", e.ts);
            ctx.emit(ctx.state(seen).get().join(","));
          },
        })
        .to("out"),
      { broker: b, limits: { maxKeysPerOperator: 2, maxStateBytesPerKey: 64 } },
    );
    await job.drain();
    expect((await b.records<string>("out")).map((r) => r.value)).toEqual(["1", "1,3", "4"]);
    const { dead, records } = await outcome(b, job);
    expect(records).toMatchObject({ in: 5, deadLettered: 2 });
    expect(dead).toEqual([
      {
        k: "a",
        stage: "limit",
        reason: expect.stringMatching(/bytes of state for one key: limits\.maxStateBytesPerKey is 64/),
      },
      { k: "c", stage: "limit", reason: expect.stringMatching(/limits\.maxKeysPerOperator is 2/) },
    ]);
  });

  it("maxStateBytesPerKey: a window's accumulator that grows past it, and an interval join's buffer", async () => {
    const collect = {
      init: () => [] as string[],
      add: (acc: string[], e: Ev) => [...acc, e.pad ?? ""],
      merge: (x: string[], y: string[]) => [...x, ...y],
      result: (acc: string[]) => acc.length,
    };
    const b = await broker([1, 2, 3, 4, 5].map((i) => ({ k: "a", ts: i, pad: "p".repeat(10) })));
    const job = await run(
      source()
        .keyBy((e) => e.k)
        .window(sliding(60_000, 30_000))
        .aggregate(collect)
        .to("out"),
      { broker: b, limits: { maxStateBytesPerKey: 40 } },
    );
    await job.drain();
    // ["pppppppppp","pppppppppp","pppppppppp"] is 40 bytes: three records fit, two do not.
    expect((await b.records<{ value: number }>("out")).map((r) => r.value.value)).toEqual([3, 3]);
    expect((await outcome(b, job)).records).toMatchObject({ in: 5, aggregated: 3, deadLettered: 2 });

    const j = new MemoryBroker();
    await j.createTopic("l");
    await j.createTopic("r");
    await j.produce(
      "l",
      [1, 2, 3].map((ts) => ({ key: "k", value: { k: "k", ts, pad: "y".repeat(30) } })),
    );
    const left = Pipeline.source<Ev>("l", { timestamp: (e) => e.ts }).keyBy((e) => e.k);
    const right = Pipeline.source<Ev>("r", { timestamp: (e) => e.ts }).keyBy((e) => e.k);
    const joined = await run(left.join(right, { between: [-10, 10] }, (x, y) => [x.ts, y.ts]).to("pairs"), {
      broker: j,
      limits: { maxStateBytesPerKey: 120 },
    });
    await joined.drain();
    const dead = (await j.records<Ev>("rivulet-dlq")).map((d) => d.headers?.["rivulet.error.reason"]);
    expect(dead).toEqual([expect.stringMatching(/left side\) would hold \d+ bytes/)]);
  });

  it("maxBatchBytes: a poll hands the pipeline at most that many bytes (at least one record); nothing is lost", async () => {
    const values = Array.from({ length: 50 }, (_, i) => ({ k: `k${i % 5}`, ts: i, pad: "z".repeat(80) }));
    const b = await broker(values);
    const job = await run(source().to("out"), { broker: b, manual: true, limits: { maxBatchBytes: 1_000 } });
    const steps: number[] = [];
    for (let n = await job.step(); n > 0; n = await job.step()) steps.push(n);
    const one = valueBytes(values[0]);
    expect(Math.max(...steps)).toBe(Math.floor(1_000 / one));
    expect(steps.reduce((x, y) => x + y, 0)).toBe(50);
    expect((await b.records<Ev>("out")).map((r) => r.value.ts)).toEqual(values.map((v) => v.ts));
    await job.stop();
    // One record larger than the budget still goes through alone.
    const big = await broker([
      { k: "x", ts: 1, pad: "q".repeat(2_000) },
      { k: "y", ts: 2 },
    ]);
    const j2 = await run(source().to("out"), { broker: big, manual: true, limits: { maxBatchBytes: 1_000 } });
    expect([await j2.step(), await j2.step()]).toEqual([1, 1]);
    await j2.stop();
  });

  it("a limit that is not a positive integer, or not a limit, fails run() naming it", async () => {
    const b = await broker([]);
    const bad = (limits: unknown) => run(source().to("out"), { broker: b, limits: limits as Limits });
    await expect(bad({ maxKeysPerOperator: 0 })).rejects.toThrow(
      /limits\.maxKeysPerOperator must be a positive integer, not 0/,
    );
    await expect(bad({ maxRecordSize: 10 })).rejects.toThrow(/limits\.maxRecordSize is not a limit/);
  });

  it("sizes as a broker holds values: UTF-8 of text, bytes as they are, other values as JSON", () => {
    expect(utf8Bytes("aé€😀")).toBe(1 + 2 + 3 + 4);
    expect(valueBytes(new Uint8Array(7))).toBe(7);
    expect(valueBytes({ a: "é" })).toBe(10);
    expect(valueBytes(null)).toBe(0);
  });
});
