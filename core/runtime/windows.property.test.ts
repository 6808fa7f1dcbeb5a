/**
 * Property tests: event-time windows (tumbling, sliding, session) against a naive reference model
 * of the semantics in DESIGN.md "Execution model" (Flink's), on random, out-of-order inputs with
 * late records, allowed lateness, a late side output, filtered and dead-lettered records, and
 * random batch sizes. Runs in Node and in Chromium (no node:* imports).
 */
import fc from "fast-check";
import {
  type Aggregator,
  type Job,
  type JobMetrics,
  MemoryStateStore,
  Pipeline,
  run,
  session,
  sliding,
  tumbling,
  type WindowResult,
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

/** One window firing as it lands on the output topic. */
interface Out {
  rk: string | null;
  key: string;
  start: number;
  end: number;
  value: number[];
  ts: number;
}

interface Late {
  rk: string | null;
  id: number;
  ts: number;
}

/** The job's accounting, as `job.metrics().records` reports it. */
type Counts = JobMetrics["records"];

interface Result {
  out: Out[];
  late: Late[];
  dlq: number[];
  counts: Counts;
  windowsFired: number;
}

interface Config {
  spec: WindowSpec;
  ooo: number;
  lateness: number;
  maxBatch: number;
  filter: boolean;
}

/** `__proto__` and `constructor` check that keyed state is a Map, not a plain object. */
const KEYS = ["a", "b", "__proto__", "constructor"] as const;
const MAX_TS = 200;
/** Generous: the suite also runs in a browser, on slower CI machines. */
const TIMEOUT = 30_000;
const NUM_RUNS = 300;

/** Records the filter drops (when the config has one). */
const kept = (e: Ev) => e.id % 5 !== 3;

/** Collects ids: the reference must get the exact contents of every window right. */
const ids: Aggregator<Ev, number[], number[]> = {
  init: () => [],
  add: (a, e) => [...a, e.id],
  merge: (a, b) => [...a, ...b],
  result: (a) => [...a].sort((x, y) => x - y),
};

const cmpKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortedIds = (es: readonly Ev[]) => es.map((e) => e.id).sort((x, y) => x - y);

// ---------------------------------------------------------------------------------------------
// The engine

/**
 * Runs the window pipeline over `events`. With `crashes`, on a broker that behaves like a REST
 * proxy (at-least-once outputs with ids, the state store owning the offsets), driven through
 * those actions (crashes and restarts among them), repeats dropped by id; the counts are then
 * the last job's only.
 */
async function runEngine(events: readonly Ev[], cfg: Config, crashes?: readonly Action[]): Promise<Result> {
  const broker = crashes ? new MemoryBroker(REST_PROXY_CAPABILITIES) : new MemoryBroker();
  broker.createTopicSync("in", { partitions: 1 });
  broker.produceSync(
    "in",
    events.map((e) => ({ key: e.k, value: e, timestamp: Math.max(0, e.ts) })),
  );
  const build = () => {
    let s = Pipeline.source<Ev>("in", { timestamp: (e) => e.ts, watermark: { maxOutOfOrderness: cfg.ooo } });
    if (cfg.filter) s = s.filter(kept);
    return s
      .keyBy((e) => e.k)
      .window(cfg.spec, { allowedLateness: cfg.lateness, lateTo: "late" })
      .aggregate(ids)
      .to("out");
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
  const records = <V>(topic: string) => {
    const all = broker.recordsSync<V>(topic);
    return crashes ? dropRepeats(all) : all;
  };
  const m = job.metrics();
  return {
    out: records<WindowResult<string, number[]>>("out").map((r) => ({
      rk: r.key,
      key: r.value.key,
      start: r.value.start,
      end: r.value.end,
      value: r.value.value,
      ts: r.timestamp,
    })),
    late: records<Ev>("late").map((r) => ({ rk: r.key, id: r.value.id, ts: r.timestamp })),
    dlq: records<Ev>("rivulet-dlq").map((r) => r.value.id),
    counts: { ...m.records },
    windowsFired: m.windowsFired,
  };
}

// ---------------------------------------------------------------------------------------------
// The reference: one record at a time, the watermark after each, everything recomputed naively.

type Fate = "late" | "emitted" | "aggregated";

interface RefOperator {
  /** A record reaches the window step while the watermark is `wm`; emissions go to `out`. */
  add(e: Ev, wm: number, out: Out[]): Fate;
  /** The watermark moves from `from` to `to` (> from). */
  advance(from: number, to: number, out: Out[]): void;
}

function reference(events: readonly Ev[], cfg: Config, op: RefOperator): Result {
  const out: Out[] = [];
  const late: Late[] = [];
  const dlq: number[] = [];
  const counts: Counts = { in: 0, emitted: 0, filtered: 0, aggregated: 0, late: 0, deadLettered: 0 };
  let wm = Number.NEGATIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    counts.in++;
    if (e.ts < 0) {
      // Invalid timestamp: dead-lettered, the watermark does not move.
      counts.deadLettered++;
      dlq.push(e.id);
      continue;
    }
    if (cfg.filter && !kept(e)) counts.filtered++;
    else {
      const fate = op.add(e, wm, out);
      counts[fate]++;
      if (fate === "late") late.push({ rk: e.k, id: e.id, ts: e.ts });
    }
    // The record first, then the watermark (filtered records move it too).
    if (e.ts > maxTs) {
      maxTs = e.ts;
      const next = maxTs - cfg.ooo - 1;
      if (next > wm) {
        op.advance(wm, next, out);
        wm = next;
      }
    }
  }
  op.advance(wm, Number.POSITIVE_INFINITY, out); // drain
  return { out, late, dlq, counts, windowsFired: out.length };
}

/** Tumbling (slide = size) and sliding windows, every window a map from key to its records. */
class RefFixedWindows implements RefOperator {
  private readonly windows = new Map<number, { start: number; end: number; byKey: Map<string, Ev[]> }>();

  constructor(
    private readonly size: number,
    private readonly slide: number,
    private readonly offset: number,
    private readonly lateness: number,
  ) {}

  /** Every [start, start + size) with start = offset (mod slide) that holds ts, latest start first. */
  windowsOf(ts: number): [number, number][] {
    const ws: [number, number][] = [];
    for (let start = ts; start > ts - this.size; start--) {
      const r = (start - this.offset) % this.slide;
      if (r === 0) ws.push([start, start + this.size]);
    }
    return ws;
  }

  add(e: Ev, wm: number, out: Out[]): Fate {
    let accepted = false;
    let emitted = false;
    for (const [start, end] of this.windowsOf(e.ts)) {
      if (end - 1 + this.lateness <= wm) continue; // past its lateness: this window skips the record
      let w = this.windows.get(start);
      if (!w) this.windows.set(start, (w = { start, end, byKey: new Map() }));
      const list = w.byKey.get(e.k) ?? [];
      list.push(e);
      w.byKey.set(e.k, list);
      accepted = true;
      if (end - 1 <= wm) {
        // Already fired, still within the lateness: fires again with the updated contents.
        out.push({ rk: e.k, key: e.k, start, end, value: sortedIds(list), ts: end - 1 });
        emitted = true;
      }
    }
    return !accepted ? "late" : emitted ? "emitted" : "aggregated";
  }

  advance(from: number, to: number, out: Out[]): void {
    const due: Out[] = [];
    for (const w of this.windows.values())
      if (w.end - 1 > from && w.end - 1 <= to)
        for (const [k, list] of w.byKey)
          due.push({ rk: k, key: k, start: w.start, end: w.end, value: sortedIds(list), ts: w.end - 1 });
    due.sort((a, b) => a.end - b.end || cmpKey(a.key, b.key));
    out.push(...due);
  }
}

/** Session windows: per key the accepted records of live sessions; sessions recomputed from them. */
class RefSessions implements RefOperator {
  private readonly live = new Map<string, Ev[]>();

  constructor(
    private readonly gap: number,
    private readonly lateness: number,
  ) {}

  /** Sessions of a set of records: sort by time, split where consecutive times are > gap apart. */
  sessionsOf(records: readonly Ev[]): { start: number; end: number; records: Ev[] }[] {
    const sorted = [...records].sort((a, b) => a.ts - b.ts);
    const sessions: { start: number; end: number; records: Ev[] }[] = [];
    for (const e of sorted) {
      const last = sessions[sessions.length - 1];
      if (last && e.ts <= last.end) {
        last.records.push(e);
        last.end = Math.max(last.end, e.ts + this.gap);
      } else sessions.push({ start: e.ts, end: e.ts + this.gap, records: [e] });
    }
    return sessions;
  }

  add(e: Ev, wm: number, out: Out[]): Fate {
    const records = this.live.get(e.k) ?? [];
    const touches = this.sessionsOf(records).some((s) => s.start <= e.ts + this.gap && s.end >= e.ts);
    if (!touches && e.ts + this.gap - 1 + this.lateness <= wm) return "late";
    records.push(e);
    this.live.set(e.k, records);
    const s = this.sessionsOf(records).find((x) => x.records.includes(e))!;
    if (s.end - 1 <= wm) {
      out.push({ rk: e.k, key: e.k, start: s.start, end: s.end, value: sortedIds(s.records), ts: s.end - 1 });
      return "emitted";
    }
    return "aggregated";
  }

  advance(from: number, to: number, out: Out[]): void {
    const due: Out[] = [];
    for (const [k, records] of this.live)
      for (const s of this.sessionsOf(records))
        if (s.end - 1 > from && s.end - 1 <= to)
          due.push({ rk: k, key: k, start: s.start, end: s.end, value: sortedIds(s.records), ts: s.end - 1 });
    due.sort((a, b) => a.end - b.end || cmpKey(a.key, b.key));
    out.push(...due);
    // Sessions past their lateness are gone, records and all.
    for (const [k, records] of this.live) {
      const keep = this.sessionsOf(records)
        .filter((s) => s.end - 1 + this.lateness > to)
        .flatMap((s) => s.records);
      const set = new Set(keep);
      const rest = records.filter((r) => set.has(r)); // arrival order kept
      if (rest.length) this.live.set(k, rest);
      else this.live.delete(k);
    }
  }
}

function refOperator(cfg: Config): RefOperator {
  const w = cfg.spec;
  switch (w.kind) {
    case "tumbling":
      return new RefFixedWindows(w.size, w.size, w.offset, cfg.lateness);
    case "sliding":
      return new RefFixedWindows(w.size, w.slide, w.offset, cfg.lateness);
    case "session":
      return new RefSessions(w.gap, cfg.lateness);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

/**
 * 0-60 records over a few keys with timestamps in 0..MAX_TS: either uniformly shuffled (very out
 * of order, many late records) or mostly ascending with jitter (few late records, many on-time
 * firings). About 3% have a negative timestamp (dead-lettered).
 */
const eventsArb: fc.Arbitrary<Ev[]> = fc
  .record({
    raw: fc.array(
      fc.record({
        k: fc.constantFrom(...KEYS),
        ts: fc.integer({ min: 0, max: MAX_TS }),
        jitter: fc.integer({ min: -25, max: 25 }),
        bad: fc.integer({ min: 0, max: 32 }),
      }),
      { maxLength: 60, size: "max" },
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

const common = {
  ooo: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 30 })),
  lateness: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })),
  maxBatch: fc.integer({ min: 1, max: 10 }),
  filter: fc.boolean(),
};

const tumblingCfg: fc.Arbitrary<Config> = fc.record({
  spec: fc
    .record({
      size: fc.integer({ min: 5, max: 50 }),
      offset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 49 })),
    })
    .map(({ size, offset }) => tumbling(size, offset % size)),
  ...common,
});

const slidingCfg: fc.Arbitrary<Config> = fc.record({
  spec: fc.integer({ min: 5, max: 50 }).chain((size) =>
    fc
      .record({
        slide: fc.integer({ min: Math.ceil(size / 8), max: size }),
        offset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 49 })),
      })
      .map(({ slide, offset }) => sliding(size, slide, offset % slide)),
  ),
  ...common,
});

const sessionCfg: fc.Arbitrary<Config> = fc.record({
  spec: fc.integer({ min: 1, max: 40 }).map((gap) => session(gap)),
  ...common,
});

// ---------------------------------------------------------------------------------------------
// Checks

function checkAccounting(c: Counts): void {
  expect(c.in).toBe(c.emitted + c.filtered + c.aggregated + c.late + c.deadLettered);
}

/**
 * Invariants that need no reference: they hold whatever the watermark did. `replayed`: the
 * counts are of the last of several jobs, which read some records again.
 */
function checkInvariants(events: readonly Ev[], cfg: Config, r: Result, replayed = false): void {
  checkAccounting(r.counts);
  if (!replayed) {
    expect(r.counts.in).toBe(events.length);
    expect(r.windowsFired).toBe(r.out.length);
    expect(r.late.length).toBe(r.counts.late); // every late record on the side output, once
    expect(r.dlq.length).toBe(r.counts.deadLettered);
  }
  const byId = new Map(events.map((e) => [e.id, e]));
  const lateIds = new Set(r.late.map((l) => l.id));
  const seen = new Set<number>();
  const last = new Map<string, number[]>();
  for (const o of r.out) {
    expect(o.rk).toBe(o.key);
    expect(o.ts).toBe(o.end - 1);
    expect(o.start).toBeLessThan(o.end);
    if (cfg.spec.kind !== "session") expect(o.end - o.start).toBe(cfg.spec.size);
    for (const id of o.value) {
      const e = byId.get(id)!;
      expect(e.k).toBe(o.key);
      expect(e.ts).toBeGreaterThanOrEqual(o.start);
      expect(e.ts).toBeLessThan(o.end);
      expect(lateIds.has(id)).toBe(false); // a late record is in no window
      seen.add(id);
    }
    if (cfg.spec.kind === "session") {
      // A session is a run of records no more than `gap` apart: [first, last + gap).
      const gap = cfg.spec.gap;
      const tss = o.value.map((id) => byId.get(id)!.ts).sort((a, b) => a - b);
      expect(o.start).toBe(tss[0]);
      expect(o.end).toBe(tss[tss.length - 1]! + gap);
      for (let i = 1; i < tss.length; i++) expect(tss[i]! - tss[i - 1]!).toBeLessThanOrEqual(gap);
    } else {
      // A window fires again only with more records: every firing is a superset of the previous.
      const wk = `${o.key}\u0000${o.start}`;
      const prev = last.get(wk) ?? [];
      expect(o.value.length).toBeGreaterThan(prev.length);
      expect(prev.every((id) => o.value.includes(id))).toBe(true);
      last.set(wk, o.value);
    }
  }
  // Every record is in some result, late, filtered or dead-lettered.
  for (const e of events) {
    const gone = e.ts < 0 || (cfg.filter && !kept(e)) || lateIds.has(e.id);
    expect(seen.has(e.id) || gone).toBe(true);
  }
  if (cfg.ooo >= MAX_TS) expect(r.late).toEqual([]);
}

async function checkAgainstReference(events: Ev[], cfg: Config): Promise<void> {
  const got = await runEngine(events, cfg);
  const want = reference(events, cfg, refOperator(cfg));
  checkInvariants(events, cfg, got);
  expect(got.out).toEqual(want.out);
  expect(got.late).toEqual(want.late);
  expect(got.dlq).toEqual(want.dlq);
  expect(got.counts).toEqual(want.counts);
  expect(got.windowsFired).toBe(want.windowsFired);
}

// ---------------------------------------------------------------------------------------------

describe("windows match a reference model (random out-of-order input, lateness, batch sizes)", () => {
  it(
    "tumbling windows",
    async () => {
      await fc.assert(
        fc.asyncProperty(eventsArb, tumblingCfg, (events, cfg) => checkAgainstReference(events, cfg)),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "sliding windows",
    async () => {
      await fc.assert(
        fc.asyncProperty(eventsArb, slidingCfg, (events, cfg) => checkAgainstReference(events, cfg)),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "session windows",
    async () => {
      await fc.assert(
        fc.asyncProperty(eventsArb, sessionCfg, (events, cfg) => checkAgainstReference(events, cfg)),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "at-least-once (a REST-proxy-like broker, crashes and restarts): without repeats, the reference's output",
    async () => {
      const cfgArb = fc.oneof(tumblingCfg, slidingCfg, sessionCfg);
      await fc.assert(
        fc.asyncProperty(eventsArb, cfgArb, actionsArb, async (events, cfg, actions) => {
          const got = await runEngine(events, cfg, actions);
          const want = reference(events, cfg, refOperator(cfg));
          checkInvariants(events, cfg, got, true);
          expect(got.out).toEqual(want.out);
          expect(got.late).toEqual(want.late);
          expect(got.dlq).toEqual(want.dlq);
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "the output, late output and counters never depend on the batch size",
    async () => {
      const cfgArb = fc.oneof(tumblingCfg, slidingCfg, sessionCfg);
      await fc.assert(
        fc.asyncProperty(eventsArb, cfgArb, fc.integer({ min: 1, max: 10 }), async (events, cfg, other) => {
          const a = await runEngine(events, { ...cfg, maxBatch: 1 });
          const b = await runEngine(events, { ...cfg, maxBatch: other });
          const c = await runEngine(events, { ...cfg, maxBatch: 1000 });
          expect(b).toEqual(a);
          expect(c).toEqual(a);
        }),
        { numRuns: 200 },
      );
    },
    TIMEOUT,
  );

  it(
    "with no possible lateness, every window holds exactly its records, fired once",
    async () => {
      const cfgArb = fc.oneof(tumblingCfg, slidingCfg).map((c) => ({ ...c, ooo: MAX_TS + 1 }));
      await fc.assert(
        fc.asyncProperty(eventsArb, cfgArb, async (events, cfg) => {
          const r = await runEngine(events, cfg);
          checkInvariants(events, cfg, r);
          expect(r.late).toEqual([]);
          expect(r.counts.late).toBe(0);
          // Straight from the definition: a record is in every aligned window that contains it.
          const spec = cfg.spec as Extract<WindowSpec, { kind: "tumbling" | "sliding" }>;
          const slide = spec.kind === "sliding" ? spec.slide : spec.size;
          const expected = new Map<string, Out>();
          for (const e of events) {
            if (e.ts < 0 || (cfg.filter && !kept(e))) continue;
            for (let start = e.ts - spec.size + 1; start <= e.ts; start++) {
              if ((((start - spec.offset) % slide) + slide) % slide !== 0) continue;
              const wk = `${start}\u0000${e.k}`;
              const o = expected.get(wk) ?? {
                rk: e.k,
                key: e.k,
                start,
                end: start + spec.size,
                value: [],
                ts: start + spec.size - 1,
              };
              o.value = [...o.value, e.id].sort((x, y) => x - y);
              expected.set(wk, o);
            }
          }
          const want = [...expected.values()].sort((a, b) => a.end - b.end || cmpKey(a.key, b.key));
          // With everything on time the watermark fires windows in (end, key) order; the drain does too.
          expect(r.out).toEqual(want);
        }),
        { numRuns: 100 },
      );
    },
    TIMEOUT,
  );
});
