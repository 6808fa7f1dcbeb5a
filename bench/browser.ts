/**
 * Browser (issue 12): the clicks-per-minute pipeline in a module Web Worker (`rivulet/browser`:
 * `startWorker` on the page, `exposeJob` in the worker, Comlink between), in real Chromium
 * (headless, /usr/bin/chromium or $RIVULET_CHROMIUM, driven by playwright-core, the flags
 * vitest.config.ts gives it), everything timed on the page with `performance.now()`.
 *
 *   npx tsx bench/browser.ts [--quick] [--events=N] [--idb-events=N] [--rounds=N] [--keys=N]
 *                            [--checkpoints=N] [--batch=N] [--in-flight=N] [--profile=DIR]
 *                            [--parts=memory,indexeddb,checkpoint,boundary]
 *   (progress on stderr, the result as JSON on the last line of stdout; bench/run.ts runs it in a
 *   child process after the edge part, --no-browser skips it)
 *
 * The page script and the worker module (bench/browser/page.mjs, worker.mjs) are bundled with
 * esbuild (`rivulet`, `rivulet/browser`, `rivulet/testing` taken from the sources, as
 * test/infra/bundle-worker.ts does for workerd) and served by a static server of this process on
 * 127.0.0.1 (stopped at the end). Three parts:
 *
 * 1. Events/s fed from the page through Comlink against the same pipeline on data already in the
 *    worker, with persistence off (`persist: false`: MemoryBroker topics, MemoryStateStore) and
 *    on (`persist: true`: IndexedDbBroker topics and IndexedDbStateStore checkpoints, one
 *    IndexedDB transaction per commit). Each run in a fresh worker (and database): a warm-up
 *    prefix produced and read first, then N clicks (1,000 users, 10 ms of event time apart,
 *    every 6th a view), either
 *    - fed: `handle.produce` in batches (at most `--in-flight` pending; each encoded by column
 *      on the page, adapters/browser/columns.ts), timed from the first produce until
 *      `metrics().records.in` has them all; or
 *    - preloaded: the job paused, the same N produced into its topic untimed, then timed from
 *      `resume()` until it has read them all.
 *    Best of `--rounds` each (alternating order); the ratio fed / preloaded (target >= 0.7).
 * 2. Checkpoint time for 100K keys: 100K clicks of distinct users in one minute of event time
 *    (one open window, 100K keys), read; the job paused; `handle.checkpoint()` timed on the page
 *    a few times (with IndexedDB: one transaction of the snapshot and the offsets); min and
 *    median (target <= 250 ms). The same in memory (MemoryStateStore: snapshot and encoding,
 *    no IndexedDB) for comparison.
 *
 * 3. Boundary (`--parts=boundary`): what one click costs at each step of the crossing, timed on
 *    the page's own thread (no page/worker contention): structured clone of the plain columns
 *    (what produce sent before), and the encoded path's encode, clone with its buffers
 *    transferred, decode and append to an in-memory topic; 7 rounds of 40 batches, ns per record.
 *
 * `--profile=DIR`: CPU profiles of the worker and of the page's main thread (Chrome's sampling
 * profiler, over CDP, 200 us) over each timed region (the last round of each throughput path, the
 * checkpoints), written to DIR as .cpuprofile files (open them in Chrome's DevTools), and a summary
 * by function on stderr. The profiler slows what it samples: the figures of a profiled run are
 * not the bench's.
 */

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/infra/chromium.js";

export interface BrowserBenchOptions {
  quick: boolean;
  /** Timed events per throughput run in memory (default 300K, quick 100K). */
  events?: number;
  /** Timed events per throughput run with IndexedDB (default 200K, quick 50K). */
  idbEvents?: number;
  /** Throughput runs of each path (default 3, quick 2), best kept, alternating order. */
  rounds?: number;
  /** Keys of the checkpoint part (default 100 000). */
  keys?: number;
  /** Checkpoints timed (default 7, quick 5). */
  checkpoints?: number;
  /** Records per `produce` call (default 5 000). */
  batch?: number;
  /** `produce` calls pending at a time (default 4). */
  inFlight?: number;
  /** Directory for CPU profiles of the worker (IndexedDB parts); none when undefined. */
  profile?: string;
  /** Parts to run (default all): `memory`, `indexeddb`, `checkpoint`, `boundary`; a part left out has null figures. */
  parts?: readonly Part[];
}

export const PARTS = ["memory", "indexeddb", "checkpoint", "boundary"] as const;
export type Part = (typeof PARTS)[number];

/** One throughput run, as the page measured it. */
export interface ThroughputRun {
  mode: "fed" | "preloaded";
  persist: boolean;
  eps: number;
  ms: number;
  /** fed: until the last produce resolved (inside `ms`); preloaded: the untimed produce. */
  produce_ms: number;
  outputs: number;
  windows_fired: number;
  checkpoints: number;
}

export interface ThroughputPair {
  /** `persist` of startWorker, and what it means. */
  persist: boolean;
  storage: string;
  events: number;
  fed_eps: number;
  preloaded_eps: number;
  fed_vs_preloaded: number;
  fed: ThroughputRun;
  preloaded: ThroughputRun;
  samples: { fed: number[]; preloaded: number[] };
}

export interface CheckpointFigures {
  persist: boolean;
  storage: string;
  keys: number;
  min_ms: number;
  median_ms: number;
  /** Every `handle.checkpoint()`, timed on the page (the Comlink round trip included). */
  samples_ms: number[];
  /** The job's own `metrics().checkpoints.lastDurationMs` after each (whole ms, in the worker). */
  worker_ms: (number | null)[];
  /** Producing and reading the keys, before. */
  fill_ms: number;
}

/**
 * What one click costs at each step of the crossing, on the page's thread (one thread, so no
 * contention between page and worker): min and median over the rounds, ns per record.
 */
export interface BoundaryFigures {
  batches: number;
  batch: number;
  rounds: number;
  ns_per_record: Record<
    "structured_clone" | "encode" | "clone_encoded" | "decode" | "append",
    { min: number; median: number; samples: number[] }
  >;
}

export interface BrowserBenchResult {
  memory_fed_eps: number | null;
  memory_preloaded_eps: number | null;
  memory_fed_vs_preloaded: number | null;
  indexeddb_fed_eps: number | null;
  indexeddb_preloaded_eps: number | null;
  indexeddb_fed_vs_preloaded: number | null;
  checkpoint_100k_min_ms: number | null;
  checkpoint_100k_median_ms: number | null;
  chromium: string;
  user_agent: string;
  chromium_flags: string[];
  pipeline: string;
  warm_up_events: number;
  batch: number;
  in_flight: number;
  users: number;
  rounds: number;
  /** persist: false. */
  memory: ThroughputPair | null;
  /** persist: true. */
  indexeddb: ThroughputPair | null;
  checkpoint: { indexeddb: CheckpointFigures; memory: CheckpointFigures } | null;
  /** Per-record costs of the crossing's steps (part `boundary`). */
  boundary: BoundaryFigures | null;
  method: string;
  /** The machine's 1-minute load average before and after (it is shared: the page and the worker need two cores). */
  load_average: [number, number];
  profiles?: string[];
}

const here = fileURLToPath(new URL(".", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const USERS = 1_000;
const POLL_MS = 5;
const STORAGE = {
  memory:
    "persist: false: MemoryBroker topics, MemoryStateStore checkpoints (encoded), in the worker's memory",
  indexeddb:
    "persist: true: IndexedDbBroker topics (each produce one IndexedDB transaction) and IndexedDbStateStore checkpoints, a commit (outputs, offsets, snapshot) one IndexedDB transaction",
};

const now = () => performance.now();
const log = (s: string) => console.error(`  browser: ${s}`);
const fmt = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}K` : x.toFixed(0);
const round3 = (x: number) => Number(x.toFixed(3));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------------------------------------------------------------------------------------------
// The bundle and its server.

const sources: Plugin = {
  name: "rivulet-sources",
  setup(b) {
    const entries: Record<string, string> = {
      rivulet: "core/index.ts",
      "rivulet/browser": "adapters/browser/index.ts",
      "rivulet/testing": "core/testing.ts",
    };
    b.onResolve({ filter: /^rivulet(\/(browser|testing))?$/ }, (a) => ({
      path: join(root, entries[a.path]!),
    }));
  },
};

/** page.js, worker.js and index.html into `dir`; checks nothing of Node went in. */
async function bundle(dir: string): Promise<void> {
  const out = await build({
    entryPoints: { page: join(here, "browser/page.mjs"), worker: join(here, "browser/worker.mjs") },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: dir,
    plugins: [sources],
    metafile: true,
    logLevel: "silent",
  });
  const node = Object.keys(out.metafile.inputs).filter((i) => /(^|\/)(node:|kafkajs|tsx)/.test(i));
  if (node.length > 0) throw new Error(`the browser bundle has Node-only modules: ${node.join(", ")}`);
  await writeFile(
    join(dir, "index.html"),
    '<!doctype html><html><head><meta charset="utf-8"><title>rivulet bench</title><link rel="icon" href="data:,"></head><body><script type="module" src="./page.js"></script></body></html>\n',
  );
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  map: "application/json",
};

/** A static server of `dir` on 127.0.0.1 (an ephemeral port). */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const name = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
    if (!/^[\w.-]+$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(dir, name));
      res.writeHead(200, {
        "content-type": TYPES[name.split(".").pop()!] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

// ---------------------------------------------------------------------------------------------
// The parts, run on the page.

interface ThroughputArgs {
  mode: "fed" | "preloaded";
  persist: boolean;
  n: number;
  warm: number;
  batch: number;
  inFlight: number;
  users: number;
  pollMs: number;
}

type PageBench = {
  throughput(a: ThroughputArgs): Promise<ThroughputRun>;
  checkpoint(a: {
    persist: boolean;
    keys: number;
    times: number;
    batch: number;
  }): Promise<
    Omit<CheckpointFigures, "storage" | "min_ms" | "median_ms" | "samples_ms"> & { page_ms: number[] }
  >;
  boundary(a: {
    batches: number;
    size: number;
    rounds: number;
    users: number;
  }): Promise<Record<keyof BoundaryFigures["ns_per_record"], number[]>>;
  userAgent(): string;
};

function onPage<K extends keyof PageBench>(
  page: Page,
  name: K,
  arg?: Parameters<PageBench[K]>[0],
): Promise<Awaited<ReturnType<PageBench[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const b = (globalThis as unknown as { bench: Record<string, (x: unknown) => unknown> }).bench;
      return b[n as string]!(a);
    },
    [name, arg] as const,
  ) as Promise<Awaited<ReturnType<PageBench[K]>>>;
}

async function throughputPair(
  page: Page,
  persist: boolean,
  n: number,
  opts: { warm: number; batch: number; inFlight: number; rounds: number },
  profiler: WorkerProfiler | undefined,
): Promise<ThroughputPair> {
  const what = persist ? "indexeddb" : "memory";
  const runs: Record<"fed" | "preloaded", ThroughputRun[]> = { fed: [], preloaded: [] };
  const modes = ["fed", "preloaded"] as const;
  for (let round = 0; round < opts.rounds; round++)
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const args: ThroughputArgs = {
        mode,
        persist,
        n,
        warm: opts.warm,
        batch: opts.batch,
        inFlight: opts.inFlight,
        users: USERS,
        pollMs: POLL_MS,
      };
      if (profiler && round === opts.rounds - 1) profiler.arm(`${what}-${mode}`);
      const r = await onPage(page, "throughput", args);
      log(
        `${what} ${mode}: ${fmt(r.eps)} events/s (${fmt(n)} in ${(r.ms / 1000).toFixed(2)} s; produce ${(r.produce_ms / 1000).toFixed(2)} s${mode === "preloaded" ? ", untimed" : ""}; ${r.outputs} outputs, ${r.checkpoints} commits)`,
      );
      runs[mode].push(r);
    }
  const best = (rs: ThroughputRun[]) => rs.reduce((a, b) => (b.eps > a.eps ? b : a));
  const fed = best(runs.fed);
  const preloaded = best(runs.preloaded);
  const outputs = new Set([...runs.fed, ...runs.preloaded].map((r) => r.outputs));
  if (outputs.size !== 1) throw new Error(`${what}: the runs wrote different outputs: ${[...outputs]}`);
  return {
    persist,
    storage: STORAGE[what],
    events: n,
    fed_eps: fed.eps,
    preloaded_eps: preloaded.eps,
    fed_vs_preloaded: round3(fed.eps / preloaded.eps),
    fed,
    preloaded,
    samples: { fed: runs.fed.map((r) => r.eps), preloaded: runs.preloaded.map((r) => r.eps) },
  };
}

async function boundaryPart(page: Page, batch: number): Promise<BoundaryFigures> {
  const batches = 40;
  const rounds = 7;
  const samples = await onPage(page, "boundary", { batches, size: batch, rounds, users: USERS });
  const ns = {} as BoundaryFigures["ns_per_record"];
  for (const [step, xs] of Object.entries(samples) as [keyof typeof samples, number[]][])
    ns[step] = { min: Math.min(...xs), median: median(xs), samples: xs };
  log(
    `boundary, ns per click (min-median, ${rounds} rounds of ${batches} x ${batch}, on the page's thread): ${Object.entries(
      ns,
    )
      .map(([k, v]) => `${k} ${v.min.toFixed(0)}-${v.median.toFixed(0)}`)
      .join(", ")}`,
  );
  return { batches, batch, rounds, ns_per_record: ns };
}

async function checkpointPart(
  page: Page,
  persist: boolean,
  keys: number,
  times: number,
  profiler: WorkerProfiler | undefined,
): Promise<CheckpointFigures> {
  const what = persist ? "indexeddb" : "memory";
  profiler?.arm(`${what}-checkpoint`);
  const r = await onPage(page, "checkpoint", { persist, keys, times, batch: 10_000 });
  const f: CheckpointFigures = {
    persist,
    storage: STORAGE[what],
    keys,
    min_ms: Math.min(...r.page_ms),
    median_ms: median(r.page_ms),
    samples_ms: r.page_ms,
    worker_ms: r.worker_ms,
    fill_ms: r.fill_ms,
  };
  log(
    `checkpoint of ${fmt(keys)} keys, ${what}: min ${f.min_ms.toFixed(1)} ms, median ${f.median_ms.toFixed(1)} ms ` +
      `(page: ${r.page_ms.map((x) => x.toFixed(0)).join(", ")}; in the worker: ${r.worker_ms.join(", ")}; filled in ${(r.fill_ms / 1000).toFixed(1)} s)`,
  );
  return f;
}

// ---------------------------------------------------------------------------------------------
// Profiling the worker (CDP: the page's session auto-attaches to its workers).

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface WorkerProfiler {
  /** Profiles the next timed region of the page (its `benchHook("start")` to `"stop"`) under `name`. */
  arm(name: string): void;
  files: string[];
}

/**
 * CPU profiles of the page's main thread and of its latest worker over the page's timed regions:
 * the page calls `benchHook("start")` just before its clock starts and `benchHook("stop")` just
 * after it stops (before the worker is terminated). The page's CDP session auto-attaches to its
 * workers (not flattened: playwright's CDPSession talks to the page target only, so the worker's
 * Profiler is reached through Target.sendMessageToTarget).
 */
async function workerProfiler(page: Page, dir: string): Promise<WorkerProfiler> {
  await mkdir(dir, { recursive: true });
  const cdp = await page.context().newCDPSession(page);
  let worker: string | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  cdp.on("Target.attachedToTarget", (e) => {
    if (e.targetInfo.type === "worker") worker = e.sessionId;
  });
  cdp.on("Target.receivedMessageFromTarget", (e) => {
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new Error(m.error.message));
    else p.resolve(m.result);
  });
  await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const inWorker = (session: string, method: string, params: object = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      void cdp
        .send("Target.sendMessageToTarget", {
          sessionId: session,
          message: JSON.stringify({ id, method, params }),
        })
        .catch(reject);
    });
  let armed: string | undefined;
  let running: { name: string; session: string } | undefined;
  const files: string[] = [];
  await page.exposeFunction("benchHook", async (event: string) => {
    if (event === "start" && armed && worker) {
      const session = worker;
      await inWorker(session, "Profiler.enable");
      await inWorker(session, "Profiler.setSamplingInterval", { interval: 200 });
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
      await Promise.all([inWorker(session, "Profiler.start"), cdp.send("Profiler.start")]);
      running = { name: armed, session };
      armed = undefined;
    } else if (event === "stop" && running) {
      const { name, session } = running;
      running = undefined;
      const [w, p] = await Promise.all([inWorker(session, "Profiler.stop"), cdp.send("Profiler.stop")]);
      for (const [thread, profile] of [
        ["worker", w.profile as CpuProfile],
        ["page", p.profile as CpuProfile],
      ] as const) {
        const file = join(dir, `browser-${name}-${thread}.cpuprofile`);
        await writeFile(file, JSON.stringify(profile));
        files.push(file);
        log(`profile of the ${thread} (${name}): ${file}\n${summarize(profile)}`);
      }
    }
  });
  return {
    arm(name) {
      armed = name;
    },
    files,
  };
}

/** Self time by function (and GC, idle, program), the top ones, as lines. */
function summarize(profile: CpuProfile, top = 14): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFn = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const where = f.url ? ` ${f.url.split("/").pop()}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName || "(anonymous)"}${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const rows = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `    ${(total / 1000).toFixed(0)} ms sampled; self time:`,
    ...rows.map(
      ([k, us]) =>
        `    ${(us / 1000).toFixed(1).padStart(8)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`,
    ),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------

/** Bundles, serves, launches Chromium, runs both parts, stops everything it started. */
export async function browserBench(options: BrowserBenchOptions): Promise<BrowserBenchResult> {
  const quick = options.quick;
  const n = options.events ?? (quick ? 100_000 : 300_000);
  const idbN = options.idbEvents ?? (quick ? 50_000 : 200_000);
  const rounds = options.rounds ?? (quick ? 2 : 3);
  const keys = options.keys ?? 100_000;
  const times = options.checkpoints ?? (quick ? 5 : 7);
  const batch = options.batch ?? 5_000;
  const inFlight = options.inFlight ?? 4;
  const warm = 20_000;
  const began = now();
  const loadBefore = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), "rivulet-bench-browser-"));
  let server: Server | undefined;
  let browser: Browser | undefined;
  try {
    const t = now();
    await bundle(dir);
    const served = await serve(dir);
    server = served.server;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const version = browser.version();
    const page = await browser.newPage();
    page.on("console", (m) => console.error(`  browser page: ${m.text()}`));
    page.on("pageerror", (e) => console.error(`  browser page error: ${e.message}`));
    await page.goto(served.url);
    await page.waitForFunction(() => "bench" in globalThis);
    const userAgent = await onPage(page, "userAgent");
    log(
      `Chromium ${version} (headless, ${CHROMIUM}), bundle served at ${served.url} (${((now() - t) / 1000).toFixed(1)} s)`,
    );
    const profiler = options.profile ? await workerProfiler(page, options.profile) : undefined;

    const opts = { warm, batch, inFlight, rounds };
    const parts = new Set(options.parts ?? PARTS);
    const memory = parts.has("memory") ? await throughputPair(page, false, n, opts, profiler) : null;
    const indexeddb = parts.has("indexeddb") ? await throughputPair(page, true, idbN, opts, profiler) : null;
    const checkpoint = parts.has("checkpoint")
      ? {
          indexeddb: await checkpointPart(page, true, keys, times, profiler),
          memory: await checkpointPart(page, false, keys, times, profiler),
        }
      : null;
    const boundary = parts.has("boundary") ? await boundaryPart(page, batch) : null;
    const loadAfter = loadavg()[0]!;
    log(
      `done in ${((now() - began) / 1000).toFixed(0)} s (load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after)`,
    );
    return {
      memory_fed_eps: memory?.fed_eps ?? null,
      memory_preloaded_eps: memory?.preloaded_eps ?? null,
      memory_fed_vs_preloaded: memory?.fed_vs_preloaded ?? null,
      indexeddb_fed_eps: indexeddb?.fed_eps ?? null,
      indexeddb_preloaded_eps: indexeddb?.preloaded_eps ?? null,
      indexeddb_fed_vs_preloaded: indexeddb?.fed_vs_preloaded ?? null,
      checkpoint_100k_min_ms: checkpoint?.indexeddb.min_ms ?? null,
      checkpoint_100k_median_ms: checkpoint?.indexeddb.median_ms ?? null,
      chromium: version,
      user_agent: userAgent,
      chromium_flags: ["headless", ...CHROMIUM_ARGS],
      pipeline:
        "clicks-per-minute (adapters/edge/example/pipeline.ts): filter kind == click, keyBy userId, tumbling 60 s window, count, allowedLateness 10 s; one partition; in a module Web Worker via exposeJob, started on the page with startWorker",
      warm_up_events: warm,
      batch,
      in_flight: inFlight,
      users: USERS,
      rounds,
      memory,
      indexeddb,
      checkpoint,
      boundary,
      method:
        `Each throughput run in a fresh worker (and a fresh IndexedDB database when persist is on): ${warm} clicks produced and read first (warm-up), then N more, timed on the page with performance.now(). ` +
        `fed: handle.produce in batches of ${batch} (at most ${inFlight} pending; the records built before the clock starts; each batch encoded by column on the page, adapters/browser/columns.ts, its typed arrays transferred), from the first produce until metrics().records.in counts them all (polled every ${POLL_MS} ms). ` +
        `preloaded: the job paused, the same N produced into its topic (untimed), then from resume() until metrics().records.in counts them all. ` +
        `Best of ${rounds} runs each, alternating order; fed_vs_preloaded = fed_eps / preloaded_eps. ` +
        `Clicks: ${USERS} users round robin, 10 ms of event time apart, every 6th a view. ` +
        `Checkpoint: ${keys} clicks of distinct users within 50 s of event time (one open window of ${keys} keys) produced and read, the job paused, then ${times} handle.checkpoint() calls timed on the page (the Comlink round trip included; with persist on, one IndexedDB transaction of the snapshot and the offsets); worker_ms is the job's own lastDurationMs. ` +
        `Boundary: 7 rounds of 40 batches of ${batch} clicks on the page's thread, each step timed over all 40 (structured clone of the plain columns; encode, structuredClone with the buffers transferred, decode, append to a MemoryBroker topic by adoptColumns as the worker does in memory), ns per record, min and median. ` +
        `Chromium headless with vitest.config.ts's flags, a fresh profile; the page and worker bundled with esbuild from the sources, served from 127.0.0.1.`,
      load_average: [Number(loadBefore.toFixed(2)), Number(loadAfter.toFixed(2))],
      ...(profiler ? { profiles: profiler.files } : {}),
    };
  } finally {
    await browser?.close().catch(() => {});
    if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true });
  }
}

// Standalone: npx tsx bench/browser.ts [--quick] [--events=N] [--idb-events=N] [--rounds=N] [--keys=N]
//   [--checkpoints=N] [--batch=N] [--in-flight=N] [--profile=DIR]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const num = (name: string) => (option(name) === undefined ? undefined : Number(option(name)));
  const opts: BrowserBenchOptions = { quick: argv.includes("--quick") };
  const set = <K extends keyof BrowserBenchOptions>(k: K, v: BrowserBenchOptions[K] | undefined) => {
    if (v !== undefined) opts[k] = v;
  };
  set("events", num("events"));
  set("idbEvents", num("idb-events"));
  set("rounds", num("rounds"));
  set("keys", num("keys"));
  set("checkpoints", num("checkpoints"));
  set("batch", num("batch"));
  set("inFlight", num("in-flight"));
  set("profile", option("profile"));
  const parts = option("parts")?.split(",");
  for (const p of parts ?? []) if (!PARTS.includes(p as Part)) throw new Error(`--parts: unknown part ${p}`);
  set("parts", parts as Part[] | undefined);
  console.log(JSON.stringify(await browserBench(opts)));
}
