// Soak: one job process (test/chaos/pipelines.ts: a keyed tumbling window with allowed lateness
// over a fixed key space, exactly-once with the changelog store) on the shared broker under a
// steady load for --soak seconds. Event time advances with the wall clock, so windows open, fire
// and are dropped all along. Every few seconds the job reports its heap (after a forced GC),
// RSS, the windows it holds, its checkpoint's size and its lag: after a warm-up, heap, RSS and
// window state must stay flat (state is freed once a window's lateness has passed) and the lag
// bounded. At the end the output must be exact. The samples are the heap curve in the results.
import { Partitioners } from "kafkajs";
import { readCommitted, scenario } from "../kafka/workers.js";
import {
  countAgainst,
  result,
  type ScenarioContext,
  type ScenarioResult,
  sampleDifferences,
  sleep,
} from "./common.js";
import { killMember, lastLines, startMember, stopMember } from "./members.js";
import { SOAK_LATENESS_MS, SOAK_OUT_OF_ORDERNESS_MS, SOAK_WINDOW_MS, type SoakEvent } from "./pipelines.js";

const PARTITIONS = 4;
const KEYS = 200;
const RATE = 2_000; // events per second
const TICK_MS = 100;

interface Sample {
  /** Seconds since the soak began. */
  t: number;
  heapMB: number;
  rssMB: number;
  windows: number;
  stateKB: number;
  /** The job's own view: high watermark minus position, summed over its partitions. */
  lag: number;
  /** The group's: end offsets minus committed offsets (read by the runner, nearest in time). */
  committedLag?: number;
}

export async function soak(ctx: ScenarioContext): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const seconds = ctx.soakSeconds;
  const statsMs = seconds >= 600 ? 10_000 : 1_000;
  const { kafka, input, output, group, env } = scenario(ctx.bootstrap, "chaos-soak");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: PARTITIONS }] });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();

  const memberEnv = (i: number, extra: Record<string, string> = {}) =>
    env(i, {
      RIVULET_PIPELINE: "soak",
      RIVULET_KEYS: String(KEYS),
      RIVULET_MAX_BATCH: "1000",
      // An hour of commit lines would crowd the stats out of what the runner keeps.
      RIVULET_EVENTS: "0",
      ...extra,
    });
  const member = startMember(memberEnv(0, { RIVULET_STATS_MS: String(statsMs) }), ["--expose-gc"]);
  const problems: string[] = [];
  const samples: Sample[] = [];
  const expected = new Map<string, { key: string; start: number; n: number; total: number }>();
  let fed = 0;
  try {
    await member.ready;
    const t0 = Date.now();
    const base = 1_700_000_000_000;
    // Steady load: RATE events a second, event time moving with the wall clock, the keys in turn.
    const perTick = (RATE * TICK_MS) / 1_000;
    let next = t0;
    const lags: { at: number; lag: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(1_000);
        try {
          const ends = await admin.fetchTopicOffsets(input);
          const [c] = await admin.fetchOffsets({ groupId: group, topics: [input] });
          const lag = ends.reduce((sum, e) => {
            const p = c?.partitions.find((x) => x.partition === e.partition);
            return sum + Number(e.high) - Math.max(0, Number(p?.offset ?? 0));
          }, 0);
          lags.push({ at: Date.now(), lag });
        } catch {
          // A missed sample; the next one comes.
        }
      }
    })();
    while (Date.now() - t0 < seconds * 1_000) {
      if (!member.alive()) throw new Error(`the job exited:\n${lastLines(member.output(), 30)}`);
      const batch: SoakEvent[] = [];
      for (let i = 0; i < perTick; i++, fed++) {
        const e = { k: `k${fed % KEYS}`, v: fed % 97, ts: base + Math.floor((fed * 1_000) / RATE) };
        batch.push(e);
        const start = e.ts - (e.ts % SOAK_WINDOW_MS);
        const id = `${e.k} ${start}`;
        const w = expected.get(id);
        if (w) {
          w.n++;
          w.total += e.v;
        } else expected.set(id, { key: e.k, start, n: 1, total: e.v });
      }
      await producer.send({
        topic: input,
        messages: batch.map((e) => ({ key: e.k, value: JSON.stringify(e), timestamp: String(e.ts) })),
      });
      next += TICK_MS;
      await sleep(Math.max(0, next - Date.now()));
    }
    await producer.disconnect();
    sampling = false;
    await sampler;
    ctx.log(`soak: ${fed} events over ${seconds} s at ${RATE}/s`);
    await sleep(statsMs + 2_000);
    for (const m of member.output().matchAll(/^stats (.*)$/gm)) {
      const s = JSON.parse(m[1]!) as {
        t: number;
        heapUsed: number;
        rss: number;
        windows: number;
        stateBytes: number;
        lag: number;
      };
      samples.push({
        t: Math.round((s.t - t0) / 100) / 10,
        heapMB: Math.round(s.heapUsed / 1e5) / 10,
        rssMB: Math.round(s.rss / 1e5) / 10,
        windows: s.windows,
        stateKB: Math.round(s.stateBytes / 100) / 10,
        lag: s.lag,
        ...nearest(lags, s.t),
      });
    }
    const code = await stopMember(member);
    if (code !== 0) problems.push(`the job stopped with ${code}:\n${lastLines(member.output(), 20)}`);
    const drainer = startMember(memberEnv(1, { RIVULET_DRAIN: "1" }));
    if ((await drainer.exited) !== 0) problems.push(`the draining member failed:\n${drainer.output()}`);
    const want = [...expected.values()]
      .map((w) => `${w.key} ${JSON.stringify({ key: w.key, start: w.start, n: w.n, total: w.total })}`)
      .sort();
    const got = await readCommitted(kafka, output, want.length, 120_000);
    const counted = countAgainst(want, got);
    if (counted.lost || counted.duplicated || counted.unexpected)
      problems.push(...sampleDifferences(want, got));

    const judged = judge(samples, seconds);
    problems.push(...judged.problems);
    return result({
      scenario: "soak",
      runtime: "node-kafka",
      guarantee: "exactly-once",
      in: fed,
      counted,
      faults: { seconds },
      startedAt,
      problems,
      details: {
        ratePerSecond: RATE,
        keys: KEYS,
        partitions: PARTITIONS,
        window: `tumbling ${SOAK_WINDOW_MS} ms, allowed lateness ${SOAK_LATENESS_MS} ms, out-of-orderness ${SOAK_OUT_OF_ORDERNESS_MS} ms`,
        ...judged.figures,
        samples,
      },
    });
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await killMember(member);
  }
}

/** The runner's committed-lag sample nearest to `at`, if one is within a second or so. */
function nearest(lags: { at: number; lag: number }[], at: number): { committedLag?: number } {
  let best: { at: number; lag: number } | undefined;
  for (const l of lags) if (!best || Math.abs(l.at - at) < Math.abs(best.at - at)) best = l;
  return best && Math.abs(best.at - at) < 1_500 ? { committedLag: best.lag } : {};
}

/**
 * After the warm-up (the first quarter): heap and RSS of the last quarter against the second,
 * windows held against what the key space can hold at once, lag against a few seconds of input.
 */
function judge(samples: Sample[], seconds: number) {
  const problems: string[] = [];
  const n = samples.length;
  const minimum = Math.max(8, Math.min(40, Math.floor(seconds / 10)));
  if (n < minimum) {
    problems.push(`only ${n} samples (want ${minimum})`);
    return { problems, figures: {} };
  }
  const q = Math.floor(n / 4);
  const mean = (xs: Sample[], f: (s: Sample) => number) => xs.reduce((a, s) => a + f(s), 0) / xs.length;
  const second = samples.slice(q, 2 * q);
  const last = samples.slice(n - q);
  const after = samples.slice(q);
  const heapFrom = mean(second, (s) => s.heapMB);
  const heapTo = mean(last, (s) => s.heapMB);
  const rssFrom = mean(second, (s) => s.rssMB);
  const rssTo = mean(last, (s) => s.rssMB);
  // Windows a key can hold at once: those not yet past their lateness, and the one filling.
  const perKey = Math.ceil((SOAK_LATENESS_MS + SOAK_OUT_OF_ORDERNESS_MS) / SOAK_WINDOW_MS) + 2;
  const maxWindows = Math.max(...after.map((s) => s.windows));
  const maxLag = Math.max(...after.map((s) => Math.max(s.lag, s.committedLag ?? 0)));
  const round = (x: number) => Math.round(x * 10) / 10;
  if (heapTo - heapFrom > Math.max(8, heapFrom * 0.15))
    problems.push(`heap grew from ${round(heapFrom)} MB to ${round(heapTo)} MB`);
  if (rssTo - rssFrom > Math.max(40, rssFrom * 0.2))
    problems.push(`RSS grew from ${round(rssFrom)} MB to ${round(rssTo)} MB`);
  if (maxWindows > KEYS * perKey)
    problems.push(`${maxWindows} windows held (at most ${KEYS * perKey} expected)`);
  if (maxLag > RATE * 5) problems.push(`lag reached ${maxLag} records (more than 5 s of input)`);
  return {
    problems,
    figures: {
      heapMB: { secondQuarter: round(heapFrom), lastQuarter: round(heapTo) },
      rssMB: { secondQuarter: round(rssFrom), lastQuarter: round(rssTo) },
      windowsHeldMax: maxWindows,
      windowsBound: KEYS * perKey,
      lagMax: maxLag,
    },
  };
}
