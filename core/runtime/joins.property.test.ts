/**
 * Property tests: interval join and window join of two keyed topics against a naive reference
 * model, on random out-of-order inputs with late records and random batch sizes. The reference
 * replays the records in the order the job reads them (each poll takes up to `maxBatch` records
 * from "left", then up to `maxBatch` from "right": source topics in definition order), with the
 * join's watermark the minimum of both sources' watermarks (DESIGN.md "Execution model").
 * Runs in Node and in Chromium (no node:* imports).
 */
import fc from "fast-check";
import {
  type Job,
  type JobMetrics,
  MemoryStateStore,
  Pipeline,
  run,
  sliding,
  tumbling,
  type WindowSpec,
} from "rivulet";
import { dropRepeats, FakeClock, MemoryBroker, REST_PROXY_CAPABILITIES } from "rivulet/testing";
import { describe, expect, it } from "vitest";
import { type Action, actionsArb, runWithCrashes } from "../../test/fixtures/crashes.js";

interface Ev {
  id: number;
  k: string;
  ts: number;
}

type Side = "left" | "right";

/** One join result as it lands on the output topic. */
interface Pair {
  rk: string | null;
  l: number;
  r: number;
  ts: number;
}

/** The job's accounting, as `job.metrics().records` reports it. */
type Counts = JobMetrics["records"];

interface Result {
  out: Pair[];
  counts: Counts;
}

type JoinSpec = { between: readonly [number, number] } | { window: WindowSpec };

interface Config {
  join: JoinSpec;
  oooLeft: number;
  oooRight: number;
  maxBatch: number;
}

const KEYS = ["a", "b", "__proto__"] as const;
const MAX_TS = 200;
/** Generous: the suite also runs in a browser, on slower CI machines. */
const TIMEOUT = 30_000;
const NUM_RUNS = 500;

const cmpKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const cmpPair = (a: Pair, b: Pair) => a.l - b.l || a.r - b.r || a.ts - b.ts || cmpKey(a.rk ?? "", b.rk ?? "");
const sortPairs = (ps: readonly Pair[]) => [...ps].sort(cmpPair);

// ---------------------------------------------------------------------------------------------
// The engine

/**
 * Runs the join over the two sides. With `crashes`, on a broker that behaves like a REST proxy
 * (at-least-once outputs with ids, the state store owning the offsets), driven through those
 * actions (crashes and restarts among them), repeats dropped by id; the counts are then the
 * last job's only.
 */
async function runEngine(
  left: readonly Ev[],
  right: readonly Ev[],
  cfg: Config,
  crashes?: readonly Action[],
): Promise<Result> {
  const broker = crashes ? new MemoryBroker(REST_PROXY_CAPABILITIES) : new MemoryBroker();
  broker.createTopicSync("left", { partitions: 1 });
  broker.createTopicSync("right", { partitions: 1 });
  const records = (es: readonly Ev[]) =>
    es.map((e) => ({ key: e.k, value: e, timestamp: Math.max(0, e.ts) }));
  broker.produceSync("left", records(left));
  broker.produceSync("right", records(right));
  const build = () => {
    const l = Pipeline.source<Ev>("left", {
      timestamp: (e) => e.ts,
      watermark: { maxOutOfOrderness: cfg.oooLeft },
    }).keyBy((e) => e.k);
    const r = Pipeline.source<Ev>("right", {
      timestamp: (e) => e.ts,
      watermark: { maxOutOfOrderness: cfg.oooRight },
    }).keyBy((e) => e.k);
    return l.join(r, cfg.join, (a, b) => ({ l: a.id, r: b.id })).to("out");
  };
  const options = { broker, clock: new FakeClock(0), manual: true, maxBatch: cfg.maxBatch };
  let job: Job;
  if (crashes) {
    const state = new MemoryStateStore();
    // Checkpoints when asked (and at the first commit): the clock never moves.
    const jobs = await runWithCrashes(
      build,
      { ...options, state, group: "g", checkpointInterval: 1 },
      crashes,
    );
    job = jobs.at(-1)!;
    expect(job.guarantee).toBe("at-least-once");
  } else {
    job = await run(build(), options);
    await job.drain();
  }
  const out = broker.recordsSync<{ l: number; r: number }>("out");
  return {
    out: (crashes ? dropRepeats(out) : out).map((x) => ({
      rk: x.key,
      l: x.value.l,
      r: x.value.r,
      ts: x.timestamp,
    })),
    counts: { ...job.metrics().records },
  };
}

// ---------------------------------------------------------------------------------------------
// The reference

/** The order the job processes records in: per poll, up to maxBatch of "left", then of "right". */
function arrivals(left: readonly Ev[], right: readonly Ev[], maxBatch: number): [Side, Ev][] {
  const seq: [Side, Ev][] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    for (let n = 0; n < maxBatch && i < left.length; n++) seq.push(["left", left[i++]!]);
    for (let n = 0; n < maxBatch && j < right.length; n++) seq.push(["right", right[j++]!]);
  }
  return seq;
}

type Fate = "late" | "emitted" | "aggregated";

interface RefJoin {
  add(side: Side, e: Ev, wm: number, out: Pair[]): Fate;
  /** The join's watermark moves from `from` to `to` (> from). */
  advance(from: number, to: number, out: Pair[]): void;
}

interface RefRun extends Result {
  /** Records the join took (not late, not dead-lettered), per side. */
  accepted: Record<Side, Ev[]>;
  /** The join's watermark when each accepted record arrived. */
  arrivedAt: Map<Ev, number>;
}

function reference(left: readonly Ev[], right: readonly Ev[], cfg: Config, op: RefJoin): RefRun {
  const out: Pair[] = [];
  const counts: Counts = { in: 0, emitted: 0, filtered: 0, aggregated: 0, late: 0, deadLettered: 0 };
  const accepted: Record<Side, Ev[]> = { left: [], right: [] };
  const arrivedAt = new Map<Ev, number>();
  const maxTs: Record<Side, number> = { left: Number.NEGATIVE_INFINITY, right: Number.NEGATIVE_INFINITY };
  const ooo: Record<Side, number> = { left: cfg.oooLeft, right: cfg.oooRight };
  const sourceWm = (s: Side) => maxTs[s] - ooo[s] - 1; // -Infinity before the first record
  let wm = Number.NEGATIVE_INFINITY;
  for (const [side, e] of arrivals(left, right, cfg.maxBatch)) {
    counts.in++;
    if (e.ts < 0) {
      counts.deadLettered++;
      continue;
    }
    const fate = op.add(side, e, wm, out);
    counts[fate]++;
    if (fate !== "late") {
      accepted[side].push(e);
      arrivedAt.set(e, wm);
    }
    if (e.ts > maxTs[side]) maxTs[side] = e.ts;
    const next = Math.min(sourceWm("left"), sourceWm("right"));
    if (next > wm) {
      op.advance(wm, next, out);
      wm = next;
    }
  }
  op.advance(wm, Number.POSITIVE_INFINITY, out);
  return { out, counts, accepted, arrivedAt };
}

/**
 * Interval join, as Flink's IntervalJoinOperator: an accepted record pairs with every buffered
 * one of the other side; a record is late when `ts < watermark` (isLate), and a buffered record
 * goes once the watermark reaches its cleanup time (the cleanup timer Flink registers at
 * `ts + max(upper, 0)` for the left side, `ts - min(lower, 0)` for the right, fires when
 * `time <= watermark`).
 */
class RefIntervalJoin implements RefJoin {
  private readonly seen: Record<Side, Ev[]> = { left: [], right: [] };

  constructor(
    private readonly lower: number,
    private readonly upper: number,
  ) {}

  matches(l: Ev, r: Ev): boolean {
    return l.k === r.k && r.ts >= l.ts + this.lower && r.ts <= l.ts + this.upper;
  }

  cleanupTime(side: Side, e: Ev): number {
    return side === "left" ? e.ts + Math.max(this.upper, 0) : e.ts - Math.min(this.lower, 0);
  }

  add(side: Side, e: Ev, wm: number, out: Pair[]): Fate {
    if (e.ts < wm) return "late";
    let emitted = false;
    for (const o of this.seen[side === "left" ? "right" : "left"]) {
      const [l, r] = side === "left" ? [e, o] : [o, e];
      if (!this.matches(l, r)) continue;
      out.push({ rk: e.k, l: l.id, r: r.id, ts: Math.max(l.ts, r.ts) });
      emitted = true;
    }
    this.seen[side].push(e);
    return emitted ? "emitted" : "aggregated";
  }

  advance(_from: number, to: number): void {
    for (const side of ["left", "right"] as const)
      this.seen[side] = this.seen[side].filter((e) => this.cleanupTime(side, e) > to);
  }
}

/** Window join: records go into their windows that have not fired; pairs come out at firing. */
class RefWindowJoin implements RefJoin {
  private readonly windows = new Map<
    number,
    { start: number; end: number; left: Map<string, Ev[]>; right: Map<string, Ev[]> }
  >();

  constructor(
    private readonly size: number,
    private readonly slide: number,
  ) {}

  windowsOf(ts: number): [number, number][] {
    const ws: [number, number][] = [];
    for (let start = ts; start > ts - this.size; start--)
      if (start % this.slide === 0) ws.push([start, start + this.size]);
    return ws;
  }

  add(side: Side, e: Ev, wm: number): Fate {
    let accepted = false;
    for (const [start, end] of this.windowsOf(e.ts)) {
      if (end - 1 <= wm) continue; // fired already: no allowed lateness for joins
      let w = this.windows.get(start);
      if (!w) this.windows.set(start, (w = { start, end, left: new Map(), right: new Map() }));
      const list = w[side].get(e.k) ?? [];
      list.push(e);
      w[side].set(e.k, list);
      accepted = true;
    }
    return accepted ? "aggregated" : "late";
  }

  advance(from: number, to: number, out: Pair[]): void {
    const due = [...this.windows.values()]
      .filter((w) => w.end - 1 > from && w.end - 1 <= to)
      .sort((a, b) => a.end - b.end);
    for (const w of due)
      for (const k of [...w.left.keys()].sort(cmpKey))
        for (const l of w.left.get(k)!)
          for (const r of w.right.get(k) ?? []) out.push({ rk: k, l: l.id, r: r.id, ts: w.end - 1 });
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** 0-40 records over a few keys: shuffled times, or ascending with jitter; ~3% invalid (ts -1). */
const sideArb: fc.Arbitrary<Ev[]> = fc
  .record({
    raw: fc.array(
      fc.record({
        k: fc.constantFrom(...KEYS),
        ts: fc.integer({ min: 0, max: MAX_TS }),
        jitter: fc.integer({ min: -25, max: 25 }),
        bad: fc.integer({ min: 0, max: 32 }),
      }),
      { maxLength: 40, size: "max" },
    ),
    ascending: fc.boolean(),
    // Dense: times in 0..MAX_TS / scale, so equal timestamps and exact boundary hits are common.
    scale: fc.constantFrom(1, 1, 5, 12),
  })
  .map(({ raw, ascending, scale }) => {
    const tss = raw.map((r) => Math.floor(r.ts / scale));
    if (ascending) tss.sort((a, b) => a - b);
    return raw.map((r, id) => ({
      id,
      k: r.k,
      ts:
        r.bad === 0
          ? -1
          : ascending
            ? Math.min(MAX_TS, Math.max(0, tss[id]! + Math.trunc(r.jitter / scale)))
            : tss[id]!,
    }));
  });

/** Out-of-orderness: often 0 or small (the watermark then sits on exact boundaries), or none possible. */
const oooArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 5 }),
  fc.integer({ min: 0, max: 30 }),
  fc.constant(MAX_TS + 1),
);
const batchArb = fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constant(1000));

const betweenArb = fc
  .oneof(
    fc.record({ lower: fc.integer({ min: -30, max: 30 }), width: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ lower: fc.integer({ min: -5, max: 5 }), width: fc.integer({ min: 0, max: 5 }) }),
  )
  .map(({ lower, width }): JoinSpec => ({ between: [lower, lower + width] }));

const windowArb = fc.oneof(
  fc.integer({ min: 5, max: 50 }).map((size): JoinSpec => ({ window: tumbling(size) })),
  fc
    .integer({ min: 5, max: 50 })
    .chain((size) =>
      fc
        .integer({ min: Math.ceil(size / 6), max: size })
        .map((slide): JoinSpec => ({ window: sliding(size, slide) })),
    ),
);

const cfgArb = (join: fc.Arbitrary<JoinSpec>): fc.Arbitrary<Config> =>
  fc.record({ join, oooLeft: oooArb, oooRight: oooArb, maxBatch: batchArb });

// ---------------------------------------------------------------------------------------------
// Checks

function refOperator(cfg: Config): RefJoin {
  const j = cfg.join;
  if ("between" in j) return new RefIntervalJoin(j.between[0], j.between[1]);
  const w = j.window;
  if (w.kind === "session") throw new Error("no session joins");
  return new RefWindowJoin(w.size, w.kind === "sliding" ? w.slide : w.size);
}

function checkAccounting(c: Counts, n: number): void {
  expect(c.in).toBe(n);
  expect(c.in).toBe(c.emitted + c.filtered + c.aggregated + c.late + c.deadLettered);
}

/**
 * Every pair of accepted records that matches: the claim "a pair is emitted iff both were
 * accepted". With one exception in interval joins, as in Flink: a record accepted at exactly
 * the watermark (`ts == watermark` is not late) misses a partner whose cleanup time the
 * watermark had reached since it arrived (`arrivedAt` given: the reference's run).
 */
function allPairs(accepted: Record<Side, Ev[]>, cfg: Config, arrivedAt?: Map<Ev, number>): Pair[] {
  const j = cfg.join;
  const pairs: Pair[] = [];
  for (const l of accepted.left)
    for (const r of accepted.right) {
      if (l.k !== r.k) continue;
      if ("between" in j) {
        const [lower, upper] = j.between;
        if (arrivedAt) {
          const wmL = arrivedAt.get(l)!;
          const wmR = arrivedAt.get(r)!;
          if (wmL < wmR && l.ts + Math.max(upper, 0) <= wmR) continue; // left cleaned before right came
          if (wmR < wmL && r.ts - Math.min(lower, 0) <= wmL) continue; // right cleaned before left came
        }
        if (r.ts >= l.ts + lower && r.ts <= l.ts + upper)
          pairs.push({ rk: l.k, l: l.id, r: r.id, ts: Math.max(l.ts, r.ts) });
      } else if (j.window.kind === "tumbling") {
        const size = j.window.size;
        const start = l.ts - (l.ts % size);
        if (r.ts >= start && r.ts < start + size)
          pairs.push({ rk: l.k, l: l.id, r: r.id, ts: start + size - 1 });
      }
    }
  return pairs;
}

async function checkAgainstReference(left: Ev[], right: Ev[], cfg: Config): Promise<void> {
  const got = await runEngine(left, right, cfg);
  const want = reference(left, right, cfg, refOperator(cfg));
  checkAccounting(got.counts, left.length + right.length);
  expect(got.counts).toEqual(want.counts);
  expect(got.out).toEqual(want.out); // exact sequence, not only the multiset
  const j = cfg.join;
  if ("between" in j || j.window.kind === "tumbling")
    expect(sortPairs(got.out)).toEqual(sortPairs(allPairs(want.accepted, cfg, want.arrivedAt)));
}

// ---------------------------------------------------------------------------------------------

describe("joins match a reference model (random out-of-order input, late records, batch sizes)", () => {
  it("reads the left topic's batch before the right's in each poll (the reference's assumption)", async () => {
    // Poll 1: left 50, right 200: join watermark min(49, 199) = 49. Poll 2: left 200 moves it to 199
    // first, so right 100 is late; were right read first, it would pair with left 50.
    const left = [
      { id: 0, k: "a", ts: 50 },
      { id: 1, k: "a", ts: 200 },
    ];
    const right = [
      { id: 0, k: "a", ts: 200 },
      { id: 1, k: "a", ts: 100 },
    ];
    const cfg: Config = { join: { between: [-200, 200] }, oooLeft: 0, oooRight: 0, maxBatch: 1 };
    const got = await runEngine(left, right, cfg);
    expect(got.out).toEqual([
      { rk: "a", l: 0, r: 0, ts: 200 },
      { rk: "a", l: 1, r: 0, ts: 200 },
    ]);
    expect(got.counts.late).toBe(1);
  });

  it(
    "interval join",
    async () => {
      await fc.assert(
        fc.asyncProperty(sideArb, sideArb, cfgArb(betweenArb), (l, r, cfg) =>
          checkAgainstReference(l, r, cfg),
        ),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "window join (tumbling and sliding)",
    async () => {
      await fc.assert(
        fc.asyncProperty(sideArb, sideArb, cfgArb(windowArb), (l, r, cfg) =>
          checkAgainstReference(l, r, cfg),
        ),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "at-least-once (a REST-proxy-like broker, crashes and restarts): without repeats, the reference's pairs",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          sideArb,
          sideArb,
          fc.oneof(cfgArb(betweenArb), cfgArb(windowArb)),
          actionsArb,
          async (left, right, cfg, actions) => {
            const got = await runEngine(left, right, cfg, actions);
            const want = reference(left, right, cfg, refOperator(cfg));
            checkAccounting(got.counts, got.counts.in);
            expect(got.out).toEqual(want.out);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "with no possible lateness, the pairs are every matching pair, whatever the batch size",
    async () => {
      const noLate = fc.record({
        join: fc.oneof(
          betweenArb,
          fc.integer({ min: 5, max: 50 }).map((size): JoinSpec => ({ window: tumbling(size) })),
        ),
        oooLeft: fc.constant(MAX_TS + 1),
        oooRight: fc.constant(MAX_TS + 1),
        maxBatch: batchArb,
      });
      await fc.assert(
        fc.asyncProperty(sideArb, sideArb, noLate, async (left, right, cfg) => {
          const got = await runEngine(left, right, cfg);
          checkAccounting(got.counts, left.length + right.length);
          expect(got.counts.late).toBe(0);
          const valid = { left: left.filter((e) => e.ts >= 0), right: right.filter((e) => e.ts >= 0) };
          expect(sortPairs(got.out)).toEqual(sortPairs(allPairs(valid, cfg)));
        }),
        { numRuns: 100 },
      );
    },
    TIMEOUT,
  );
});
