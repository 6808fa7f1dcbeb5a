/**
 * One query in a fresh process: the engine (as bench/run.ts's `engine_eps` measures it: from the
 * job's 200,001st event to the end of `drain`) and the hand-written loop, a few runs each, timed
 * by CPU time, optionally with the inspector's CPU profiler over the engine's timed part. A tool
 * for finding where the engine's time goes.
 *
 *   taskset -c 0 npx tsx bench/profile.ts --query=q2 [--events=1000000] [--runs=3] [--prof=out.cpuprofile]
 *
 * With --prof it prints the functions with the most self time (and their share) and writes the
 * profile (open it in Chrome DevTools or speedscope).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { run } from "../core/index.js";
import { generateNexmark, MemoryBroker } from "../core/testing.js";
import { HANDWRITTEN } from "./nexmark/handwritten.js";
import { QUERIES, type QueryName } from "./nexmark/queries.js";
import { cpuMs, settle } from "./settle.js";

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const q = (option("query") ?? "q2") as QueryName;
const n = Number(option("events") ?? 1_000_000);
const runs = Number(option("runs") ?? 3);
const prof = option("prof");

const events = generateNexmark({ seed: 42 }, n);

async function engine(count: number, profile?: Session): Promise<number> {
  const broker = new MemoryBroker();
  await broker.createTopic("nexmark", { partitions: 1 });
  for (let i = 0; i < count; i += 100_000) {
    const records = [];
    for (let j = i; j < Math.min(i + 100_000, count); j++)
      records.push({ value: events[j]!, timestamp: events[j]!.timestamp });
    broker.produceSync("nexmark", records);
  }
  const pipeline = QUERIES[q]("nexmark", "out");
  await settle();
  const job = await run(pipeline, { broker, manual: true });
  // As bench/run.ts times it: from the job's 200,001st event (its own JIT warm-up left out).
  let done = 0;
  while (done < Math.min(200_000, count / 2)) done += await job.step();
  if (profile) await post(profile, "Profiler.start");
  const t0 = cpuMs();
  await job.drain();
  const ms = cpuMs() - t0;
  if (profile) {
    const { profile: p } = (await post(profile, "Profiler.stop")) as { profile: CpuProfile };
    writeFileSync(prof!, JSON.stringify(p));
    summarize(p);
  }
  if (job.metrics().records.in !== count) throw new Error("not every event read");
  return ((count - done) / ms) * 1000;
}

function hand(): number {
  const t0 = cpuMs();
  HANDWRITTEN[q](events);
  return (n / (cpuMs() - t0)) * 1000;
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount: number;
    positionTicks?: { line: number; ticks: number }[];
  }[];
  samples: number[];
}

function summarize(p: CpuProfile): void {
  const self = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const f = node.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + node.hitCount);
    total += node.hitCount;
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [name, hits] of top) console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  // Line ticks (meaningful when the script is bundled: tsx's transpiled files lose line numbers).
  const lines = new Map<string, number>();
  for (const node of p.nodes)
    for (const t of node.positionTicks ?? []) {
      const k = `${node.callFrame.url.split("/").pop()}:${t.line}`;
      lines.set(k, (lines.get(k) ?? 0) + t.ticks);
    }
  console.log("lines:");
  for (const [k, ticks] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${((ticks / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
}

function post(s: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

const fmt = (x: number) => `${(x / 1e6).toFixed(2)}M/s`;
await engine(Math.min(n, 200_000));
hand();
const e: number[] = [];
const h: number[] = [];
for (let i = 0; i < runs; i++) {
  await settle();
  h.push(Math.max(hand(), hand())); // best of 2 passes, as run.ts does

  e.push(await engine(n));
}
const be = Math.max(...e);
const bh = Math.max(...h);
console.log(
  `${q}: engine ${e.map(fmt).join(" ")}  hand ${h.map(fmt).join(" ")}  best ratio ${(be / bh).toFixed(3)}`,
);
if (prof) {
  const s = new Session();
  s.connect();
  await post(s, "Profiler.enable");
  await post(s, "Profiler.setSamplingInterval", { interval: 100 });
  await engine(n, s);
}
