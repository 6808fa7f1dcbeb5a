// Browser faults: the clicks-per-minute job in a module Web Worker of a real Chromium page, its
// topics, offsets and checkpoints in IndexedDB. The page (test/chaos/browser/, built by Vite and
// served on 127.0.0.1) produces the input in chunks; between chunks, at random moments, the
// worker is terminated (as a crash would kill it: mid-slice, mid-commit) and started again on the
// same database, or the page is reloaded (some while a new worker is still restoring). Then the
// origin's IndexedDB quota is cut just above its usage (Chromium's
// Storage.overrideQuotaForOrigin): a produce that does not fit must fail with a clear error and
// store nothing, and with the quota back the job goes on from its last commit. The promise is
// exactly-once in the page: the outputs equal the in-memory run's, no record lost or repeated.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";
import { DEFAULT_TOPICS, perMinute } from "../../adapters/edge/example/pipeline.js";
import { run } from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { launchChromiumWithProfile, serveStatic, stopServer, watchProblems } from "../playground/harness.js";
import { clicks, row } from "./browser/clicks.js";
import {
  type Counted,
  countAgainst,
  random,
  result,
  type ScenarioContext,
  type ScenarioResult,
  sampleDifferences,
  sleep,
  until,
} from "./common.js";

const root = join(import.meta.dirname, "..", "..");
const here = join(import.meta.dirname, "browser");
const site = join(root, ".cache", "chaos-browser");
const CHUNK = 10_000;
/** The quota of the origin where the quota is hit (bytes). */
const QUOTA = 1_000_000;

/** The page's API (test/chaos/browser/page.ts), as page.evaluate reaches it. */
export interface PageApi {
  start(database: string): Promise<{ persist: boolean; restored: boolean }>;
  produce(
    from: number,
    n: number,
  ): Promise<{ ok: true } | { ok: false; error: { name: string; code: string; message: string } }>;
  progress(): Promise<{ lag: number; read: number }>;
  checkpoint(): Promise<void>;
  terminate(): void;
  finish(): Promise<{ rows: string[]; late: number; dead: string[]; offsetsUnique: boolean; inputs: number }>;
  usage(): Promise<{ usage: number; quota: number }>;
  feed(url: string, topics: string[], group: string): void;
  feedStats(): { received: number; produced: number; failed: number } | undefined;
  stopFeed(): Promise<{ received: number; produced: number; failed: number }>;
}
declare const chaos: PageApi;

/**
 * Builds the scenario's page (test/chaos/browser/) with Vite into .cache/chaos-browser, the
 * package's entries aliased to its sources as the browser tests have them. The Kafka project's
 * browser-feed test uses it too.
 */
export async function buildPage(): Promise<string> {
  await build({
    configFile: false,
    root: here,
    base: "./",
    logLevel: "warn",
    resolve: {
      alias: [
        { find: /^rivulet\/browser$/, replacement: join(root, "adapters/browser/index.ts") },
        { find: /^rivulet\/edge$/, replacement: join(root, "adapters/edge/index.ts") },
        { find: /^rivulet$/, replacement: join(root, "core/index.ts") },
      ],
    },
    worker: { format: "es" },
    build: { outDir: site, emptyOutDir: true, target: "es2022", reportCompressedSize: false },
  });
  return site;
}

/** The same pipeline on the same input, in memory in Node, drained: the oracle. */
async function oracle(n: number): Promise<{ rows: string[]; late: number }> {
  const broker = new MemoryBroker();
  await broker.createTopic(DEFAULT_TOPICS.clicks, { partitions: 2 });
  await broker.produce(DEFAULT_TOPICS.clicks, clicks(0, n));
  const job = await run(perMinute(DEFAULT_TOPICS), { broker, manual: true, tasks: "per-partition" });
  await job.drain();
  const late = await broker.records(DEFAULT_TOPICS.late).catch(() => []);
  return { rows: (await broker.records(DEFAULT_TOPICS.perMinute)).map(row), late: late.length };
}

const sum = (a: Counted, b: Counted): Counted => ({
  out: a.out + b.out,
  lost: a.lost + b.lost,
  duplicated: a.duplicated + b.duplicated,
  unexpected: a.unexpected + b.unexpected,
});

export async function browserFaults(ctx: ScenarioContext): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const seed = Number(process.env.RIVULET_CHAOS_SEED ?? Date.now() % 100_000);
  const rnd = random(seed);
  const terminations = ctx.quick ? 10 : 40;
  const reloads = ctx.quick ? 4 : 10;
  // One kind of fault after each chunk: the reloads spread among the terminations.
  const plan: ("terminate" | "reload" | "reloadInStart")[] = Array.from(
    { length: terminations },
    () => "terminate",
  );
  for (let r = 0; r < reloads; r++)
    plan.splice(Math.floor(rnd() * (plan.length + 1)), 0, r % 2 === 0 ? "reload" : "reloadInStart");
  const total = plan.length * CHUNK;
  const problems: string[] = [];
  const faults = { terminate: 0, reload: 0, reloadInStart: 0, quota: 0 };
  const atFault: { kind: string; lag: number; read: number }[] = [];

  ctx.log(`browser: building the page (vite) into ${site}`);
  await buildPage();
  const { url, server } = await serveStatic(site, "/chaos/");
  const servers = [server];
  // A profile on disk, as a visitor's browser has (an incognito context keeps IndexedDB in
  // memory, where the quota override does not apply); removed at the end.
  const profile = mkdtempSync(join(tmpdir(), "rivulet-chaos-chromium-"));
  const browser = await launchChromiumWithProfile(profile);
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const seen = watchProblems(page);
    const open = async () => {
      await page.goto(url);
      await page.waitForFunction("document.title === 'ready'");
    };
    await open();
    const database = `chaos-${seed}`;
    const start = () => page.evaluate((db) => chaos.start(db), database);
    await start();

    let produced = 0;
    for (const kind of plan) {
      const r = await page.evaluate(([from, n]) => chaos.produce(from!, n!), [produced, CHUNK]);
      if (!r.ok) throw new Error(`produce of clicks ${produced}.. failed: ${r.error.message}`);
      produced += CHUNK;
      // A random moment while the job works through what is there.
      await sleep(rnd() * 60);
      const p = await page.evaluate(() => chaos.progress());
      atFault.push({ kind, ...p });
      faults[kind]++;
      if (kind === "terminate") {
        await page.evaluate(() => chaos.terminate());
        await start();
      } else if (kind === "reload") {
        await page.reload();
        await page.waitForFunction("document.title === 'ready'");
        await start();
      } else {
        // A new worker restoring from IndexedDB when the page goes.
        await page.evaluate(() => chaos.terminate());
        const starting = start().catch(() => undefined);
        await sleep(rnd() * 30);
        await page.reload();
        await starting;
        await page.waitForFunction("document.title === 'ready'");
        await start();
      }
    }
    const got = await page.evaluate(() => chaos.finish());
    const want = await oracle(total);
    let counted = countAgainst(want.rows, got.rows);
    if (counted.lost + counted.duplicated + counted.unexpected > 0)
      problems.push(`faults: ${sampleDifferences(want.rows, got.rows).join("; ")}`);
    if (got.inputs !== total) problems.push(`the input topic holds ${got.inputs} clicks, not ${total}`);
    if (got.late !== want.late) problems.push(`${got.late} late records, the oracle has ${want.late}`);
    if (!got.offsetsUnique) problems.push("two output records at one offset");
    const midStream = atFault.filter((f) => f.lag > 0).length;
    if (midStream === 0) problems.push("no fault landed while the job had input left to read");
    ctx.log(
      `browser: ${plan.length} faults (${midStream} with input left to read), ${got.rows.length} outputs`,
    );

    // The quota: an origin of its own (a second server), its IndexedDB quota cut to 1 MB before
    // its first write (Chromium checks a bucket's space once and then counts down, so a cut
    // after the first write would not be seen for a while). What was committed fits, the next
    // produce does not.
    const cdp = await browser.newCDPSession(page);
    const second = await serveStatic(site, "/chaos/");
    servers.push(second.server);
    const origin = new URL(second.url).origin;
    await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: QUOTA });
    await page.goto(second.url);
    await page.waitForFunction("document.title === 'ready'");
    const quotaDb = `chaos-quota-${seed}`;
    await page.evaluate((db) => chaos.start(db), quotaDb);
    const first = 4_000;
    const more = 120_000;
    const a = await page.evaluate(([n]) => chaos.produce(0, n!), [first]);
    if (!a.ok) throw new Error(`produce before the quota was reached failed: ${a.error.message}`);
    await until(
      async () => (await page.evaluate(() => chaos.progress())).lag === 0,
      "the job read its input",
      30_000,
    );
    await page.evaluate(() => chaos.checkpoint());
    const { usage } = await page.evaluate(() => chaos.usage());
    ctx.log(`browser: quota ${QUOTA} bytes, ${usage} used before the produce that does not fit`);
    const refused = await page.evaluate(([from, n]) => chaos.produce(from!, n!), [first, more]);
    faults.quota++;
    let quotaError = "";
    if (refused.ok) problems.push(`a produce of ${more} clicks fitted in the ${QUOTA}-byte quota`);
    else {
      quotaError = `${refused.error.name} ${refused.error.code}: ${refused.error.message}`;
      if (
        !/storage quota for this site is exceeded/.test(refused.error.message) ||
        refused.error.code !== "STATE"
      )
        problems.push(`the quota's error does not say so: ${quotaError}`);
    }
    // The quota back (the override lifted); a new worker on the same database.
    await cdp.send("Storage.overrideQuotaForOrigin", { origin });
    await page.evaluate(() => chaos.terminate());
    const restarted = await page.evaluate((db) => chaos.start(db), quotaDb);
    if (!restarted.restored) problems.push("after the quota, the job did not restore from its checkpoint");
    const held = await page.evaluate(() => chaos.progress());
    if (held.lag !== 0) problems.push(`a refused produce left ${held.lag} clicks behind (half written)`);
    const again = await page.evaluate(([from, n]) => chaos.produce(from!, n!), [first, more]);
    if (!again.ok) throw new Error(`produce after the quota was lifted failed: ${again.error.message}`);
    const gotQ = await page.evaluate(() => chaos.finish());
    const wantQ = await oracle(first + more);
    const countedQ = countAgainst(wantQ.rows, gotQ.rows);
    if (countedQ.lost + countedQ.duplicated + countedQ.unexpected > 0)
      problems.push(`quota: ${sampleDifferences(wantQ.rows, gotQ.rows).join("; ")}`);
    if (gotQ.inputs !== first + more)
      problems.push(`after the quota the input topic holds ${gotQ.inputs} clicks, not ${first + more}`);
    counted = sum(counted, countedQ);
    ctx.log(`browser: quota ${quotaError ? `refused: ${quotaError}` : "not hit"}`);
    // A reload aborts the worker's module load when a new worker is starting: expected.
    problems.push(...seen.filter((s) => !/net::ERR_ABORTED/.test(s)).slice(0, 5));

    return result({
      scenario: "browser",
      runtime: "browser",
      guarantee: "exactly-once",
      in: total + first + more,
      faults,
      counted,
      startedAt,
      problems,
      details: {
        seed,
        chromium: browser.browser()?.version(),
        pipeline:
          "clicks per user per minute (tumbling 60 s, lateness 10 s), 2 partitions, per-partition tasks",
        chunks: plan.length,
        faultsWithInputLeft: midStream,
        quotaError,
      },
    });
  } finally {
    await browser.close();
    for (const s of servers) await stopServer(s);
    rmSync(profile, { recursive: true, force: true });
  }
}
