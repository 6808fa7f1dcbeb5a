// `npm run chaos`: faults injected into the real components, each scenario's records in / out /
// lost / duplicated and its verdict printed, every row written to a results file.
//
//   npm run chaos                       the full suite (the soak for --soak seconds, default 3600);
//                                       rows into test/chaos/results.json (committed: the README's
//                                       figures come from it)
//   npm run chaos -- --quick            the quick versions (what `npm test` runs), under 5 minutes;
//                                       rows into .cache/chaos-results-quick.json
//   npm run chaos -- --soak=600         the soak's length in seconds
//   npm run chaos -- --only=kafka-sigkill,edge-proxy   some scenarios only (their rows replace
//                                       those of the same scenarios in the file, others stay)
//   npm run chaos -- --results=<file>   another results file
//
// A broker is started for the scenarios that share one (RIVULET_KAFKA=host:port uses a running
// one instead); scenarios that restart or pause a broker start their own on other ports.
// Exits 1 when a scenario fails. RIVULET_CHAOS_SEED replays a run's random moments. Ctrl-C
// stops every process it started (by pid), brokers included.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { startKafka } from "../infra/kafka-control.js";
import { crashed, type ScenarioContext, type ScenarioResult, summary } from "./common.js";
import { SCENARIOS } from "./scenarios.js";

const root = join(import.meta.dirname, "..", "..");
const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const value = (name: string) => flag(name)?.split("=")[1];
const quick = flag("quick") !== undefined;
const soakSeconds = Number(value("soak") ?? (quick ? 60 : 3_600));
const only = value("only")?.split(",");
const file = resolve(
  root,
  value("results") ?? (quick ? ".cache/chaos-results-quick.json" : "test/chaos/results.json"),
);
const known = ["quick", "soak", "only", "results"];
const stray = args.filter((a) => !known.some((k) => a === `--${k}` || a.startsWith(`--${k}=`)));
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (stray.length > 0 || unknown.length > 0) {
  console.error(
    `${stray.length > 0 ? `unknown arguments: ${stray.join(" ")}` : `unknown scenarios: ${unknown.join(", ")}`}; ` +
      `usage: npm run chaos -- [--quick] [--soak=<s>] [--only=<names>] [--results=<file>]; ` +
      `scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`,
  );
  process.exit(2);
}
if (!(soakSeconds > 0)) {
  console.error("--soak=<seconds> takes a positive number");
  process.exit(2);
}

// Ctrl-C, or a test runner's SIGTERM: the exit hooks stop what was started (members, proxies,
// brokers; each registers one on the pid it spawned).
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    console.error(`[chaos] ${signal}: stopping what it started`);
    process.exit(130);
  });

const started = Date.now();
const log = (line: string) => console.log(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
let kafka: { bootstrap: string; stop(): Promise<void> } | undefined;
const bootstrap = process.env.RIVULET_KAFKA ?? (kafka = await startKafka()).bootstrap;
log(`${quick ? "quick" : "full"} run; shared broker at ${bootstrap}`);
const ctx: ScenarioContext = { quick, bootstrap, soakSeconds, log };
const results: ScenarioResult[] = [];
/** Rows of scenarios not run this time stay as they were (a run with --only). */
const kept = (): ScenarioResult[] => {
  try {
    const old = JSON.parse(readFileSync(file, "utf8")) as ScenarioResult[];
    return old.filter((r) => !results.some((n) => n.scenario === r.scenario));
  } catch {
    return [];
  }
};
const order = (r: ScenarioResult) => SCENARIOS.findIndex((s) => s.name === r.scenario);
try {
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.name)) continue;
    log(`${s.name}: ${s.what}`);
    const t0 = Date.now();
    let r: ScenarioResult;
    try {
      r = await s.run(ctx);
    } catch (e) {
      r = crashed(s.name, s.runtime, s.guarantee, t0, e);
    }
    results.push(r);
    log(summary(r));
    const rows = [...kept(), ...results].sort((a, b) => order(a) - order(b));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(rows, null, 2)}\n`);
  }
} finally {
  await kafka?.stop();
}
const failed = results.filter((r) => r.verdict === "fail");
log(
  `${results.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${file}`,
);
process.exit(failed.length > 0 ? 1 : 0);
