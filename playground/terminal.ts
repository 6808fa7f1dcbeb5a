// `npm start` until the web playground lands: clicks per user per minute, on simulated topics,
// with out-of-order and late clicks and some malformed ones, watched live in the terminal.
// Event time runs 60x faster than the wall clock: one simulated minute per second.
import { count, type JobMetrics, Pipeline, run, tumbling, type WindowResult } from "../core/index.js";
import { MemoryBroker } from "../core/testing.js";

interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
}

const seconds = Number(process.argv.find((a) => a.startsWith("--seconds="))?.split("=")[1] ?? 12);
const START = Date.UTC(2026, 0, 1, 9, 0, 0);
const SPEED = 60;
const users = Array.from({ length: 12 }, (_, i) => `user-${String(i + 1).padStart(2, "0")}`);

export const clicksPerMinute = Pipeline.source<Click>("clicks", {
  timestamp: (c) => c.ts,
  watermark: { maxOutOfOrderness: 5_000, idleTimeout: 2_000, maxFutureSkew: 3_600_000 },
})
  .filter((c) => c.kind === "click")
  .keyBy((c) => c.userId)
  .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: "clicks-late" })
  .aggregate(count())
  .to("clicks-per-minute");

const broker = new MemoryBroker();
await broker.createTopic("clicks", { partitions: 3 });
await broker.createTopic("clicks-per-minute", { partitions: 1 }); // one partition: results in firing order
const job = await run(clicksPerMinute, { broker, deadLetterTopic: "clicks-dlq" });

let seed = 42;
const random = () => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
  return ((seed >>> 0) % 1_000_000) / 1_000_000;
};
const hhmmss = (t: number) =>
  Number.isFinite(t) ? new Date(t).toISOString().slice(11, 19) : t > 0 ? "end" : "--:--:--";

const wallStart = Date.now();
let produced = 0;
let lastProduced = 0;
let lastTick = wallStart;
let read = 0;
const tty = process.stdout.isTTY;

function produce(): void {
  const now = START + (Date.now() - wallStart) * SPEED;
  const batch = [];
  for (let i = 0; i < 40; i++) {
    const userId = users[Math.floor(random() ** 2 * users.length)]!;
    const r = random();
    // Most clicks are up to 4 s out of order; 3% are 20-70 s late; 1% are malformed.
    const ts = r < 0.03 ? now - 20_000 - random() * 50_000 : now - random() * 4_000;
    const value =
      r > 0.99 ? "{garbled" : { userId, kind: random() < 0.8 ? "click" : "view", ts: Math.round(ts) };
    batch.push({ key: userId, value, timestamp: Math.round(ts) });
  }
  broker.produceSync<unknown>("clicks", batch);
  produced += batch.length;
}

function status(m: JobMetrics): string {
  const now = Date.now();
  const rate = Math.round(((produced - lastProduced) * 1000) / Math.max(1, now - lastTick));
  lastProduced = produced;
  lastTick = now;
  const r = m.records;
  return `in ${r.in} (${rate}/s) | watermark ${hhmmss(m.watermark)} | windows fired ${m.windowsFired} | late ${r.late} | dead-lettered ${r.deadLettered} | lag ${m.partitions.reduce((s, p) => s + p.lag, 0)}`;
}

const fired = new Map<string, number>();

function printResults(): void {
  const out = broker.recordsSync<WindowResult<string, number>>("clicks-per-minute");
  const fresh = out.slice(read).map((r) => r.value);
  read = out.length;
  const firsts = new Map<number, WindowResult<string, number>[]>();
  for (const w of fresh) {
    const id = `${w.start}/${w.key}`;
    const before = fired.get(id);
    fired.set(id, w.value);
    if (before === undefined) firsts.set(w.start, [...(firsts.get(w.start) ?? []), w]);
    else
      line(`  late click within the allowed lateness: ${hhmmss(w.start)} ${w.key} ${before} -> ${w.value}`);
  }
  for (const [start, rows] of firsts) {
    const top = rows
      .sort((a, b) => b.value - a.value)
      .slice(0, 4)
      .map((w) => `${w.key} ${w.value}`)
      .join(", ");
    const total = rows.reduce((s, w) => s + w.value, 0);
    line(
      `minute ${hhmmss(start)}-${hhmmss(start + 60_000)} fired: ${rows.length} users, ${total} clicks; top: ${top}`,
    );
  }
}

function line(text: string): void {
  if (tty) process.stdout.write(`\r\x1b[2K${text}\n`);
  else console.log(text);
}

console.log(
  `Rivulet demo: clicks per user per minute on simulated topics (1 simulated minute per second, ${seconds} s).`,
);
console.log(
  "Pipeline: source(clicks) > filter(click) > keyBy(user) > window(tumbling 1 min, lateness 10 s) > count > clicks-per-minute\n",
);
const producer = setInterval(produce, 100);
const ui = setInterval(() => {
  printResults();
  if (tty) process.stdout.write(`\r\x1b[2K${status(job.metrics())}`);
}, 250);

const finish = async () => {
  clearInterval(producer);
  clearInterval(ui);
  await job.drain(); // end of the bounded run: every open window fires
  printResults();
  const m = job.metrics();
  line(status(m));
  const r = m.records;
  console.log(
    `\nAccounting: ${r.in} in = ${r.emitted} emitted + ${r.filtered} filtered + ${r.aggregated} aggregated + ${r.late} late + ${r.deadLettered} dead-lettered`,
  );
  const late = broker.recordsSync("clicks-late").length;
  const dead = broker.recordsSync("clicks-dlq");
  console.log(
    `Late clicks side output: ${late} records in "clicks-late"; dead letters: ${dead.length} in "clicks-dlq"`,
  );
  if (dead[0])
    console.log(
      `  e.g. offset ${dead[0].headers["rivulet.source.offset"]}: ${dead[0].headers["rivulet.error.reason"]}`,
    );
};

const timer = setTimeout(finish, seconds * 1000);
process.once("SIGINT", () => {
  clearTimeout(timer);
  void finish();
});
