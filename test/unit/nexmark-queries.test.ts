// Nexmark q0-q8 (bench/nexmark/queries.ts) on the in-memory broker, checked against the naive
// reference implementations (bench/nexmark/reference.ts); the benchmark's hand-written loops and
// RxJS versions are checked the same way, so the baselines compute the same thing.
import { describe, expect, it } from "vitest";
import { HANDWRITTEN, loadRxQueries } from "../../bench/nexmark/handwritten.js";
import {
  type Q4Result,
  type Q6Result,
  QUERIES,
  QUERY_NAMES,
  type QueryName,
} from "../../bench/nexmark/queries.js";
import {
  refQ0,
  refQ1,
  refQ2,
  refQ3,
  refQ4,
  refQ5,
  refQ6,
  refQ7,
  refQ8,
} from "../../bench/nexmark/reference.js";
import { type JobMetrics, run } from "../../core/index.js";
import { generateNexmark, MemoryBroker, type NexmarkConfig, type NexmarkEvent } from "../../core/testing.js";

/** A slow event clock (200 events/s) so that 20,000 events span 100 s: ten q7/q8 windows, fifty of q5. */
const CONFIG: NexmarkConfig = { seed: 11, firstEventRate: 200 };

async function runQuery(
  name: QueryName,
  events: readonly NexmarkEvent[],
  partitions: number,
): Promise<{ out: unknown[]; metrics: JobMetrics }> {
  const broker = new MemoryBroker();
  await broker.createTopic("nexmark", { partitions });
  await broker.produce(
    "nexmark",
    events.map((e) => ({ value: e, timestamp: e.timestamp })),
  );
  const output = `nexmark-${name}`;
  const job = await run(QUERIES[name]("nexmark", output), { broker, manual: true });
  await job.drain();
  const out = (await broker.records(output)).map((r) => r.value);
  return { out, metrics: job.metrics() };
}

const canon = (x: unknown) => JSON.stringify(x, Object.keys(x as object).sort());
const multiset = (xs: readonly unknown[]) => xs.map(canon).sort();

/** q4's changelog, summed up: per category the last average and the number of updates. */
function q4Final(out: readonly unknown[]): [number, { avg: number; auctions: number }][] {
  const m = new Map<number, { avg: number; auctions: number }>();
  for (const r of out as Q4Result[])
    m.set(r.category, { avg: r.avg, auctions: (m.get(r.category)?.auctions ?? 0) + 1 });
  return [...m].sort((a, b) => a[0] - b[0]);
}

/** q6's changelog per seller, in order. */
function q6BySeller(out: readonly unknown[]): [number, number[]][] {
  const m = new Map<number, number[]>();
  for (const r of out as Q6Result[]) m.set(r.seller, [...(m.get(r.seller) ?? []), r.avg]);
  return [...m].sort((a, b) => a[0] - b[0]);
}

/** What each query's output must equal, in a comparable form. */
function expected(name: QueryName, events: readonly NexmarkEvent[]): unknown {
  switch (name) {
    case "q0":
      return multiset(refQ0(events));
    case "q1":
      return multiset(refQ1(events));
    case "q2":
      return multiset(refQ2(events));
    case "q3":
      return multiset(refQ3(events));
    case "q4":
      return [...refQ4(events)].sort((a, b) => a[0] - b[0]);
    case "q5":
      return multiset(refQ5(events));
    case "q6":
      return [...refQ6(events)].sort((a, b) => a[0] - b[0]);
    case "q7":
      return multiset(refQ7(events));
    case "q8":
      return multiset(refQ8(events));
  }
}

function comparable(name: QueryName, out: readonly unknown[]): unknown {
  if (name === "q4") return q4Final(out);
  if (name === "q6") return q6BySeller(out);
  return multiset(out);
}

/** Not vacuous: every query has output on the test stream, and the windowed ones several windows. */
const MIN_OUTPUTS: Record<QueryName, number> = {
  q0: 10_000,
  q1: 10_000,
  q2: 50,
  q3: 50,
  q4: 1_000,
  q5: 50,
  q6: 1_000,
  q7: 10,
  q8: 40,
};

describe.each([
  { label: "one partition, in order", n: 20_000, partitions: 1, config: CONFIG },
  {
    label: "three partitions, out-of-order groups",
    n: 10_000,
    partitions: 3,
    config: { ...CONFIG, seed: 12, outOfOrderGroupSize: 50 },
  },
])("nexmark queries: $label", ({ n, partitions, config }) => {
  const events = generateNexmark(config, n);

  it.each(QUERY_NAMES)("%s matches the reference", async (name) => {
    const { out, metrics } = await runQuery(name, events, partitions);
    const r = metrics.records;
    expect(r.in).toBe(n);
    expect(r.late).toBe(0);
    expect(r.deadLettered).toBe(0);
    expect(r.emitted + r.filtered + r.aggregated).toBe(n);
    const want = expected(name, events);
    expect(comparable(name, out)).toEqual(want);
    if (partitions === 1) expect(out.length).toBeGreaterThanOrEqual(MIN_OUTPUTS[name]);
  });

  it.each(QUERY_NAMES)("%s hand-written baseline matches the reference", (name) => {
    expect(comparable(name, HANDWRITTEN[name](events))).toEqual(expected(name, events));
  });
});

describe("nexmark RxJS baselines", async () => {
  const rx = await loadRxQueries();
  const events = generateNexmark(CONFIG, 5_000);
  it.each(["q0", "q1", "q2"] as const)("%s matches the reference", (name) => {
    expect(rx, "rxjs is a devDependency").toBeDefined();
    expect(multiset(rx![name]!(events))).toEqual(expected(name, events));
  });
});
