// The bench's page script (bench/browser.ts bundles it with esbuild and drives it with
// playwright-core): starts the job worker (./worker.mjs, bundled as worker.js) with
// `startWorker`, feeds it through `handle.produce`, and times everything here, on the page, with
// `performance.now()`. Plain JavaScript: tsconfig.json, which covers bench/, has no DOM types.
// `globalThis.bench` is what the driver calls (page.evaluate); the log goes to the console,
// which the driver prints on stderr.
import { columns, startWorker } from "rivulet/browser";
import { MemoryBroker } from "rivulet/testing";
import { decodeRecords, encodeRecords } from "../../adapters/browser/columns.ts";

const WORKER = new URL("./worker.js", import.meta.url);
const CLICKS = "clicks";
const PER_MINUTE = "clicks-per-minute";
const log = (s) => console.log(s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 1) => Number(x.toFixed(d));

/** The driver's profiler hook (`--profile`: exposed by bench/browser.ts), around each timed region. */
const hook = async (event) => globalThis.benchHook?.(event);

let runs = 0;
/** A fresh database per run (deleted after): no run reads another's topics. */
const databaseName = () => `rivulet-bench-${Date.now().toString(36)}-${++runs}`;

/**
 * Clicks `from` to `from + n`: `users` users round robin, 10 ms of event time apart (6,000 a
 * minute: each window fires every user's count), every 6th a view (filtered out).
 */
function clicks(from, n, users) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = from + i;
    const userId = `u${k % users}`;
    out[i] = {
      key: userId,
      value: { userId, kind: k % 6 === 0 ? "view" : "click", ts: k * 10 },
      timestamp: k * 10,
    };
  }
  return out;
}

function batches(records, size) {
  const out = [];
  for (let i = 0; i < records.length; i += size) out.push(records.slice(i, i + size));
  return out;
}

/** Polls `metrics()` until the job has read `n` records; returns the last metrics. */
async function readAll(job, n, pollMs, timeoutMs = 600_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const m = await job.metrics();
    if (m.records.in >= n) return m;
    if (m.status === "failed" || performance.now() > deadline)
      throw new Error(`the job read ${m.records.in} of ${n} records (status ${m.status})`);
    await sleep(pollMs);
  }
}

/** Produces every batch, at most `inFlight` produce calls pending at a time (in order). */
async function produceAll(job, list, inFlight) {
  const pending = new Set();
  for (const b of list) {
    const p = job.produce(CLICKS, b);
    pending.add(p);
    p.then(
      () => pending.delete(p),
      () => {},
    );
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
}

function deleteDatabase(name) {
  return new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = () => resolve();
    r.onblocked = () => log(`  (deleting ${name}: blocked until the terminated worker's connection closes)`);
  });
}

async function withJob(persist, extra, fn) {
  const database = databaseName();
  const job = await startWorker(WORKER, { persist, database, ...extra });
  try {
    return await fn(job);
  } finally {
    job.terminate();
    if (persist) await deleteDatabase(database);
  }
}

/**
 * One throughput run in a fresh worker: `warm` events produced and read first (the worker's JIT),
 * then `n` more, timed.
 * - `fed`: from the first `produce` of the n (batches of `batch`, at most `inFlight` pending)
 *   until `metrics().records.in` says the job has read them all;
 * - `preloaded`: the job paused, the n produced into its topic (untimed), then from `resume()`
 *   until it has read them all: the same pipeline on data already in the worker.
 */
async function throughput({ mode, persist, n, warm, batch, inFlight, users, pollMs }) {
  const warmList = batches(clicks(0, warm, users), batch);
  const list = batches(clicks(warm, n, users), batch);
  // Paused, the job's lag grows past maxLag (default 100 000) and produce would wait for it.
  const extra = mode === "preloaded" ? { maxLag: Number.MAX_SAFE_INTEGER } : {};
  return withJob(persist, extra, async (job) => {
    await produceAll(job, warmList, inFlight);
    await readAll(job, warm, pollMs);
    let t0;
    let produceMs = null;
    if (mode === "fed") {
      await hook("start");
      t0 = performance.now();
      await produceAll(job, list, inFlight);
      produceMs = performance.now() - t0;
    } else {
      await job.pause();
      const p0 = performance.now();
      await produceAll(job, list, inFlight);
      produceMs = performance.now() - p0;
      await hook("start");
      t0 = performance.now();
      await job.resume();
    }
    const m = await readAll(job, warm + n, pollMs);
    const ms = performance.now() - t0;
    await hook("stop");
    if (m.records.in !== warm + n || m.records.late !== 0 || m.records.deadLettered !== 0)
      throw new Error(
        `${mode}: read ${m.records.in} of ${warm + n}, ${m.records.late} late, ${m.records.deadLettered} dead-lettered`,
      );
    return {
      mode,
      persist,
      eps: Math.round((n / ms) * 1000),
      ms: round(ms),
      produce_ms: round(produceMs),
      outputs: m.produced[PER_MINUTE] ?? 0,
      windows_fired: m.windowsFired,
      checkpoints: m.checkpoints.count,
    };
  });
}

/**
 * Checkpoint time for `keys` keys: `keys` clicks of distinct users, all in one minute of event
 * time (one window, none fired: `keys` open keys), produced and read; then, the job paused,
 * `times` calls of `handle.checkpoint()` timed on the page (with IndexedDB: one transaction of
 * the snapshot, the offsets and no records), each with the job's own `lastDurationMs`.
 */
async function checkpoint({ persist, keys, times, batch }) {
  const records = [];
  for (let i = 0; i < keys; i++) {
    const userId = `user-${i}`;
    const ts = Math.floor((i * 50_000) / keys); // within [0, 50 000): the watermark stays below 60 000
    records.push({ key: userId, value: { userId, kind: "click", ts }, timestamp: ts });
  }
  return withJob(persist, { maxLag: Number.MAX_SAFE_INTEGER }, async (job) => {
    const f0 = performance.now();
    await produceAll(job, batches(records, batch), 2);
    await readAll(job, keys, 20);
    const fillMs = performance.now() - f0;
    await job.pause();
    await sleep(100); // the loop sees the pause and idles
    const page = [];
    const worker = [];
    await hook("start");
    for (let i = 0; i < times; i++) {
      const t = performance.now();
      await job.checkpoint();
      page.push(round(performance.now() - t, 2));
      worker.push((await job.metrics()).checkpoints.lastDurationMs ?? null);
    }
    await hook("stop");
    const m = await job.metrics();
    const open = await job.query(`user-${keys - 1}`);
    const windows = open[Object.keys(open)[0]] ?? [];
    if (m.records.aggregated !== keys || windows.length !== 1 || windows[0].fired || windows[0].value !== 1)
      throw new Error(
        `checkpoint: ${m.records.aggregated} aggregated, last key's windows ${JSON.stringify(open)}`,
      );
    return {
      persist,
      keys,
      fill_ms: round(fillMs),
      page_ms: page,
      worker_ms: worker,
      windows_fired: m.windowsFired,
    };
  });
}

/**
 * What one record costs at each step of the crossing, here on the page's thread (one thread: no
 * page/worker contention): `batches` batches of `size` clicks per round, every step timed over all
 * of them, `rounds` rounds; ns per record, each step's samples. The steps: structured clone of the
 * plain columns (what produce sent before: serialize and deserialize), and the encoded path:
 * encoding (the page's share), the clone of the encoded batch with its buffers transferred (the
 * dictionaries and the message), decoding, and appending to an in-memory topic (the decoded
 * columns handed to its log, `adoptColumns`, as the worker's produce does in memory; the
 * worker's share is these three).
 */
async function boundary({ batches, size, rounds, users }) {
  const steps = { structured_clone: [], encode: [], clone_encoded: [], decode: [], append: [] };
  const keep = [];
  for (let round = 0; round < rounds; round++) {
    const list = [];
    for (let b = 0; b < batches; b++) list.push(clicks((round * batches + b) * size, size, users));
    const perRecord = (ms) => round3((ms / (batches * size)) * 1e6);
    let t = performance.now();
    for (const records of list) keep.push(structuredClone(columns(records)));
    steps.structured_clone.push(perRecord(performance.now() - t));
    keep.length = 0;
    const encoded = [];
    t = performance.now();
    for (const records of list) {
      const transfer = [];
      encoded.push({ batch: encodeRecords(records, transfer), transfer });
    }
    steps.encode.push(perRecord(performance.now() - t));
    const arrived = [];
    t = performance.now();
    for (const e of encoded) arrived.push(structuredClone(e.batch, { transfer: e.transfer }));
    steps.clone_encoded.push(perRecord(performance.now() - t));
    const decoded = [];
    t = performance.now();
    for (const e of arrived) decoded.push(decodeRecords(e));
    steps.decode.push(perRecord(performance.now() - t));
    const broker = new MemoryBroker();
    await broker.createTopic(CLICKS);
    t = performance.now();
    // As the worker's produce does in memory: the decoded columns become the topic's own.
    for (const d of decoded)
      broker.adoptColumns(CLICKS, { values: d.values, timestamps: d.timestamps, keys: d.keys });
    steps.append.push(perRecord(performance.now() - t));
  }
  return steps;
}

const round3 = (x) => Number(x.toFixed(1));

globalThis.bench = { throughput, checkpoint, boundary, userAgent: () => navigator.userAgent };
log("bench page ready");
