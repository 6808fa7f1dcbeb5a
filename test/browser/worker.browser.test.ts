// rivulet/browser in real Chromium: the clicks pipeline in a module Web Worker behind Comlink,
// its topics, offsets and checkpoints in IndexedDB.
import { type Job, type ProduceRecord, run } from "rivulet";
import { startWorker, type TopicBatch, type WorkerJobHandle } from "rivulet/browser";
import { MemoryBroker } from "rivulet/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type Click, DEFAULT_TOPICS, perMinute } from "../../adapters/edge/example/pipeline.js";

const workerUrl = new URL("./fixtures/clicks.worker.ts", import.meta.url);
const handles: WorkerJobHandle[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.terminate();
});

const start = async (options: Parameters<typeof startWorker>[1] = {}) => {
  const h = await startWorker(workerUrl, options);
  handles.push(h);
  return h;
};

/** Clicks of 5 users, 7 s apart, a view every 6th. */
function clicks(from: number, n: number): { key: string; value: Click; timestamp: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const value: Click = { userId: `u${k % 5}`, kind: k % 6 === 0 ? "view" : "click", ts: k * 7_000 };
    return { key: value.userId, value, timestamp: value.ts };
  });
}

/** What the same pipeline writes on the page, in memory, drained: the oracle. */
async function oracle(input: { key: string; value: Click; timestamp: number }[]) {
  const broker = new MemoryBroker();
  await broker.createTopic("clicks", { partitions: 2 });
  await broker.produce("clicks", input);
  const job: Job = await run(perMinute(DEFAULT_TOPICS), { broker, manual: true, tasks: "per-partition" });
  await job.drain();
  return rows(await broker.records(DEFAULT_TOPICS.perMinute));
}

const rows = (rs: { key: string | null; value: unknown; timestamp: number }[]) =>
  rs.map((r) => JSON.stringify([r.key, r.value, r.timestamp])).sort();

/** Waits until the job has read `n` records. */
async function readAll(job: WorkerJobHandle, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await job.metrics()).records.in < n) {
    if (Date.now() > deadline) throw new Error(`the job read ${(await job.metrics()).records.in} of ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const db = () => `rivulet-test-${Math.random().toString(36).slice(2)}`;

describe("a job in a Web Worker", () => {
  it("in memory: produce, subscribe, drain; the oracle's output", async () => {
    const job = await start({ persist: false });
    expect(job.started).toEqual({ persist: false, restored: false });
    const seen: TopicBatch[] = [];
    await job.subscribe(DEFAULT_TOPICS.perMinute, (b) => seen.push(b));
    const input = clicks(0, 300);
    await job.produce("clicks", input.slice(0, 150));
    await job.produce("clicks", input.slice(150));
    await job.drain();
    const out = await job.records(DEFAULT_TOPICS.perMinute);
    expect(rows(out)).toEqual(await oracle(input));
    // Outputs reached the page in batches, each record once.
    const pushed = seen.flatMap((b) =>
      b.values.map((v, i) => JSON.stringify([b.keys[i], v, b.timestamps[i]])),
    );
    expect(pushed.sort()).toEqual(rows(out));
    expect(seen.length).toBeLessThan(out.length);
    const m = await job.metrics();
    expect(m.records.in).toBe(300);
    expect(m.guarantee).toBe("exactly-once");
  });

  it("in IndexedDB: a new worker on the same database goes on from the last commit", async () => {
    const database = db();
    const input = clicks(0, 200);
    const a = await start({ database });
    expect(a.started).toEqual({ persist: true, restored: false });
    await a.produce("clicks", input.slice(0, 120));
    await readAll(a, 120);
    await a.checkpoint();
    const mid = await a.query("u1");
    expect(Object.keys(mid)).toEqual(["clicks-per-minute"]);
    await a.stop();
    a.terminate();
    const b = await start({ database });
    expect(b.started.restored).toBe(true);
    await b.produce("clicks", input.slice(120));
    await b.drain();
    expect(rows(await b.records(DEFAULT_TOPICS.perMinute))).toEqual(await oracle(input));
    expect((await b.metrics()).records.in).toBe(80); // only what came after a's last commit
  });
});

/**
 * Records `from .. from + n - 1`: keys that are not strings, headers, values of every kind, and a
 * timestamp where `stamped(k)`.
 */
function mixedBatch(from: number, n: number, stamped: (k: number) => boolean): ProduceRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const r: ProduceRecord = {
      // A number key is outside the type; the broker makes it a string.
      key: k % 7 === 0 ? null : k % 5 === 0 ? (k as unknown as string) : `u${k % 13}`,
      value: k % 9 === 0 ? [k, { nested: true }] : { userId: `u${k % 13}`, n: k, ok: k % 2 === 0 },
    };
    if (stamped(k)) r.timestamp = k * 10;
    if (k % 17 === 0) r.headers = { h: `${k}` };
    return r;
  });
}

describe("what a page that manages the worker's topics needs (the playground)", () => {
  it("a produce call that waits for the job to catch up (maxLag) holds back the calls after it", async () => {
    const job = await start({ persist: false, maxLag: 100, run: { maxBatch: 100 } });
    await job.pause();
    const input = clicks(0, 900);
    await job.produce("clicks", input.slice(0, 300));
    await job.step(); // reads 100 of them: 200 behind, more than maxLag
    const order: string[] = [];
    const waiting = job.produce("clicks", input.slice(300, 600)).then(() => order.push("waiting"));
    await job.step(); // 100 behind: no more than maxLag, but the call before still waits
    const after = job.produce("clicks", input.slice(600, 900)).then(() => order.push("after"));
    await job.metrics(); // a round trip: the worker has taken both calls
    expect(order).toEqual([]); // the first waits for the lag, the second for the first
    await job.resume();
    await Promise.all([waiting, after]);
    expect(order).toEqual(["waiting", "after"]);
    await readAll(job, input.length);
    expect((await job.metrics()).records.late).toBe(0);
    // Each partition holds its records in the order produced.
    const held = await job.records<Click>("clicks");
    expect(held.length).toBe(input.length);
    for (const p of [0, 1]) {
      const ts = held.filter((r) => r.partition === p).map((r) => r.value.ts);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
    }
  });

  it("in memory, batches handed to a one-partition topic as they are decoded are stored as produce stores them", async () => {
    const job = await start({ persist: false });
    await job.createTopic("raw", 1);
    await job.createTopic("raw-many", 3);
    // Batches large enough to become chunks of the topic (1,024 records or more) and small ones,
    // with keys that are not strings, records without a timestamp, headers, values of every kind.
    const batch = (from: number, n: number) => mixedBatch(from, n, (k) => k % 11 !== 0);
    const input = [batch(0, 3_000), batch(3_000, 10), batch(3_010, 1_500), batch(4_510, 1_024)];
    const reference = new MemoryBroker();
    reference.now = () => -1;
    await reference.createTopic("raw", { partitions: 1 });
    await reference.createTopic("raw-many", { partitions: 3 });
    for (const b of input) {
      await job.produce("raw", b);
      await job.produce("raw-many", b);
      await reference.produce("raw", b);
      await reference.produce("raw-many", b);
    }
    for (const topic of ["raw", "raw-many"]) {
      const held = await job.records(topic);
      const expected = await reference.records(topic);
      expect(held.length).toBe(expected.length);
      // The worker's clock stamps what came without a timestamp; everything else is as produced.
      const unstamped = held.filter((_r, i) => expected[i]!.timestamp === -1);
      expect(unstamped.length).toBeGreaterThan(0);
      expect(unstamped.every((r) => r.timestamp > 1e12)).toBe(true);
      expect(held.map((r, i) => (expected[i]!.timestamp === -1 ? { ...r, timestamp: -1 } : r))).toEqual(
        expected,
      );
    }
  });

  it("in memory, encoded batches kept as they came (decoded as read) read back as produced, every time", async () => {
    const job = await start({ persist: false });
    await job.createTopic("kept", 1);
    // Every record with its timestamp, no partition named: the topic keeps each batch encoded.
    const batch = (from: number, n: number) => mixedBatch(from, n, () => true);
    const input = [
      batch(0, 3_000),
      batch(3_000, 10),
      batch(3_010, 1_500),
      batch(4_510, 1_024),
      batch(5_534, 2_000),
    ];
    const reference = new MemoryBroker();
    await reference.createTopic("kept", { partitions: 1 });
    for (const b of input) {
      await job.produce("kept", b);
      await reference.produce("kept", b);
    }
    const expected = await reference.records("kept");
    // Read twice: more chunks than the log keeps decoded, so the second read decodes them again.
    expect(await job.records("kept")).toEqual(expected);
    expect(await job.records("kept")).toEqual(expected);
  });

  it("topics: every topic with its offsets and the job's lag; createTopic; describe: the plan as data", async () => {
    const job = await start({ database: db() });
    const plan = await job.describe();
    expect(plan.sources).toEqual(["clicks"]);
    expect(plan.outputs).toContain(DEFAULT_TOPICS.perMinute);
    expect(plan.steps.find((s) => s.kind === "window")).toMatchObject({ window: "tumbling(60000)" });
    await job.createTopic("notes", 3);
    await job.createTopic("notes", 3); // quietly, again
    await job.produce("notes", [{ key: "k", value: { text: "hi" }, timestamp: 1 }]);
    await job.pause();
    await job.produce("clicks", clicks(0, 10));
    const before = new Map((await job.topics()).map((t) => [t.name, t]));
    expect(before.get("notes")).toMatchObject({ partitions: 3, startOffsets: [0, 0, 0] });
    expect(before.get("notes")!.endOffsets.reduce((a, b) => a + b)).toBe(1);
    const clicksTopic = before.get("clicks")!;
    expect(clicksTopic.partitions).toBe(2);
    expect(clicksTopic.group.lag.reduce((a, b) => a + b)).toBe(10); // paused: nothing read yet
    expect(before.has(DEFAULT_TOPICS.perMinute)).toBe(true); // the job made its outputs
    await job.resume();
    await readAll(job, 10);
    await job.checkpoint();
    const after = (await job.topics()).find((t) => t.name === "clicks")!;
    expect(after.group.lag).toEqual([0, 0]);
    expect(after.group.committed).toEqual(after.endOffsets);
  });
});

describe("crashes: a terminated worker, a new one on the same IndexedDB", () => {
  it("terminated at random points, again and again: the final output is the uninterrupted one, exactly", async () => {
    const database = db();
    // Enough input that the first worker is still reading at its first crash: since records
    // cross the boundary in columns, 3,000 clicks were all read within the first 5-45 ms.
    const input = clicks(0, 30_000);
    const first = await start({ database, sliceMs: 5 });
    await first.produce("clicks", input);
    let rnd = 7;
    const next = () => {
      rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31;
      return rnd / 2 ** 31;
    };
    let job = first;
    const reads: number[] = [];
    for (let crash = 0; crash < 6; crash++) {
      await new Promise((r) => setTimeout(r, 5 + next() * 40));
      reads.push((await job.metrics()).records.in);
      job.terminate(); // mid-slice, mid-commit, wherever it is
      job = await start({ database, sliceMs: 5 });
    }
    await job.drain();
    const got = await job.records(DEFAULT_TOPICS.perMinute);
    expect(rows(got)).toEqual(await oracle(input)); // no loss, no duplicate
    expect(new Set(got.map((r) => r.offset)).size).toBe(got.length);
    // The crashes did land mid-run (some jobs had read part of the input, none all of it before the end).
    expect(
      reads.some((n) => n > 0 && n < input.length),
      String(reads),
    ).toBe(true);
  }, 60_000);
});

describe("bad input and failures reach the page as clear errors; nothing committed is lost", () => {
  it("a malformed record goes to the dead-letter topic with its reason", async () => {
    const job = await start({ persist: false });
    await job.produce("clicks", [
      { key: "u1", value: "{not json", timestamp: 1 },
      { key: "u1", value: { userId: "u1", kind: "click", ts: 5 }, timestamp: 5 },
    ]);
    await job.drain();
    const [dead] = await job.records("rivulet-dlq");
    expect(dead!.headers).toMatchObject({
      "rivulet.error.stage": "deserialize",
      "rivulet.error.reason": "SyntaxError: value is not valid JSON",
    });
    expect((await job.metrics()).records).toMatchObject({ in: 2, deadLettered: 1, aggregated: 1 });
  });

  it("a pipeline module that throws at import: startWorker rejects, saying so", async () => {
    await expect(
      startWorker(new URL("./fixtures/throws-at-import.worker.ts", import.meta.url)),
    ).rejects.toMatchObject({
      _tag: "RivuletError",
      message: expect.stringMatching(/the job's worker failed: .*this pipeline module is broken/),
    });
  });

  it("a user function that throws fails the job; the page gets a UserFunctionError naming the step", async () => {
    const job = await startWorker(new URL("./fixtures/failing.worker.ts", import.meta.url));
    handles.push(job);
    await job.produce("numbers", [{ value: { n: 1 } }, { value: { n: 13 } }]);
    const e = await job.drain().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ name: "UserFunctionError", code: "USER_FUNCTION", step: "step 2 (map)" });
    expect((e as Error).message).toMatch(/RangeError: unlucky number/);
    await expect(job.metrics()).rejects.toMatchObject({ code: "USER_FUNCTION" });
  });
});
