// The example edge worker (adapters/edge/example) bundled and run in real workerd (Miniflare 3),
// in front of Rivulet's REST proxy (a real process) and the real broker: clicks pushed over HTTP
// land in Kafka; pulls through the proxy count them per user and minute with the state in a
// Durable Object; overlapping pulls never process the same records twice; a new workerd
// instance on the same persisted storage goes on where the first stopped.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { run } from "rivulet";
import { KafkaBroker } from "rivulet/node";
import { dropRepeats, MemoryBroker } from "rivulet/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Click, perMinute } from "../../adapters/edge/example/pipeline.js";
import { bundleWorker } from "../infra/bundle-worker.js";
import { readTopic, uniq } from "./kafka-helpers.js";
import { type ProxyProcess, startProxy } from "./rest-proxy-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const TOKEN = "edge-test-token-0123456789";
const MINUTE = 60_000;

/** `rivulet`, `rivulet/edge`, `rivulet/testing` from the sources, as the tests see them. */

let proxy: ProxyProcess;
let kafka: KafkaBroker;
let dir: string;
let script: string;
const prefix = `${uniq("edge")}.`;
const topics = { clicks: `${prefix}clicks`, perMinute: `${prefix}per-minute`, late: `${prefix}late` };
const group = uniq("edge-clicks");

beforeAll(async () => {
  proxy = await startProxy(bootstrap, ["--rate-limit", "0"]);
  kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "edge-workerd" });
  for (const t of [topics.clicks, topics.perMinute, topics.late, "rivulet-dlq"])
    await kafka.createTopic(t, { partitions: 2 });
  dir = await mkdtemp(join(tmpdir(), "rivulet-workerd-"));
  script = join(dir, "worker.mjs");
  // Nothing of Node, nor a Kafka client, goes into what runs in workerd (bundleWorker checks).
  const inputs = await bundleWorker("adapters/edge/example/worker.ts", script);
  expect(inputs.some((i) => i.includes("adapters/edge/app.ts"))).toBe(true);
}, 120_000);

afterAll(async () => {
  await kafka?.close();
  await proxy?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A workerd instance of the example worker, its Durable Object storage persisted under `dir`. */
function workerd(): Miniflare {
  return new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dir,
    compatibilityDate: "2024-09-23",
    durableObjects: { CLICKS_JOB: "ClicksJob" },
    durableObjectsPersist: join(dir, "do"),
    bindings: {
      KAFKA_REST_URL: proxy.url,
      API_TOKEN: TOKEN,
      TOPICS: JSON.stringify(topics),
      GROUP: group,
    },
  });
}

const base = Math.floor((Date.now() - 86_400_000) / MINUTE) * MINUTE;
/** Clicks of 4 users over `minutes` minutes from `from`, every 7th a view. */
function clicks(from: number, n: number): Click[] {
  return Array.from({ length: n }, (_, i) => ({
    userId: `u${(from + i) % 4}`,
    kind: (from + i) % 7 === 0 ? "view" : "click",
    ts: base + (from + i) * 9_000,
  }));
}

async function push(mf: Miniflare, body: string, headers: Record<string, string> = {}) {
  const res = await mf.dispatchFetch(`http://edge.test/topics/${topics.clicks}`, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function pull(mf: Miniflare): Promise<{ records: number; caughtUp: boolean }> {
  const res = await mf.dispatchFetch("http://edge.test/run", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return JSON.parse(body);
}

/** Pulls until a pull reads nothing and has caught up. */
async function pullAll(mf: Miniflare): Promise<number> {
  let total = 0;
  for (let i = 0; i < 50; i++) {
    const { records, caughtUp } = await pull(mf);
    total += records;
    if (records === 0 && caughtUp) return total;
  }
  throw new Error(`still reading after 50 pulls (${total} records)`);
}

/** What the same pipeline writes in memory for `input` (every record read; no end of input). */
async function oracle(input: Click[]) {
  const broker = new MemoryBroker();
  await broker.createTopic(topics.clicks, { partitions: 2 });
  await broker.produce(
    topics.clicks,
    input.map((c) => ({ key: c.userId, value: c, timestamp: c.ts })),
  );
  const job = await run(perMinute(topics), { broker, manual: true, tasks: "per-partition" });
  await job.flush();
  const rows = async (t: string) =>
    (await broker.records(t)).map((r) => JSON.stringify([r.key, r.value, r.timestamp])).sort();
  return { perMinute: await rows(topics.perMinute), late: await rows(topics.late) };
}

async function inKafka(topic: string, min: number) {
  const records = await readTopic(bootstrap, topic, { min, timeoutMs: 15_000 });
  return dropRepeats(
    records.map((r) => ({
      topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key,
      value: r.value === null ? null : JSON.parse(r.value),
      timestamp: r.timestamp,
      headers: r.headers,
    })),
  );
}

describe("the example worker in workerd, through the REST proxy, on the real broker", () => {
  // The window [420 s, 480 s) spans both halves: its count is right only if the second workerd
  // instance restored the first one's window state from the Durable Object's storage.
  const first = clicks(0, 50);
  const second = clicks(50, 70);

  it("pushes, pulls with its state in a Durable Object, restarts from persisted storage with no loss", async () => {
    let mf = workerd();
    try {
      const pushed = await push(
        mf,
        JSON.stringify(first.map((c) => ({ key: c.userId, value: c, timestamp: c.ts }))),
      );
      expect(pushed).toEqual({ status: 200, body: { accepted: 50, deadLettered: 0, written: 50 } });
      // The pushed clicks are in Kafka as they were sent: keys, JSON values, event times.
      const landed = await inKafka(topics.clicks, 50);
      expect(landed.map((r) => r.value).sort((a, b) => (a as Click).ts - (b as Click).ts)).toEqual(first);
      expect(
        landed.every((r) => r.timestamp === (r.value as Click).ts && r.key === (r.value as Click).userId),
      ).toBe(true);

      expect(await pullAll(mf)).toBe(50);
      // Interactive query of the Durable Object's live job: u0's open window.
      const state = await mf.dispatchFetch("http://edge.test/state/u0", {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(state.status).toBe(200);
      const q = (await state.json()) as {
        key: string;
        state: Record<string, { start: number; value: number }[]>;
      };
      expect(q.key).toBe("u0");
      expect(Object.keys(q.state)).toEqual(["clicks-per-minute"]);
      expect(q.state["clicks-per-minute"]).toContainEqual(
        expect.objectContaining({ start: base + 420_000, value: expect.any(Number) }),
      );
      const metrics = await (
        await mf.dispatchFetch("http://edge.test/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })
      ).text();
      expect(metrics).toMatch(/^rivulet_records_in_total 50$/m);
    } finally {
      await mf.dispose();
    }

    // A new workerd instance (a deploy, an eviction) on the same persisted Durable Object storage.
    mf = workerd();
    try {
      const pushed = await push(
        mf,
        second.map((c) => JSON.stringify({ key: c.userId, value: c, timestamp: c.ts })).join("\n"),
        { "content-type": "application/x-ndjson" },
      );
      expect(pushed.body).toMatchObject({ accepted: 70 });
      // Two pulls at once: the group's one Durable Object runs them one after another.
      const both = await Promise.all([pull(mf), pull(mf)]);
      const more = both[0].records + both[1].records + (await pullAll(mf));
      expect(more).toBe(70); // only the new clicks: it went on from the first instance's checkpoint
      const want = await oracle([...first, ...second]);
      const got = await inKafka(topics.perMinute, want.perMinute.length);
      expect(got.map((r) => JSON.stringify([r.key, r.value, r.timestamp])).sort()).toEqual(want.perMinute);
      expect(got.length).toBeGreaterThan(10);
      const spanning = got.filter((r) => (r.value as { start: number }).start === base + 420_000);
      expect(spanning.length).toBeGreaterThan(0);
    } finally {
      await mf.dispose();
    }
  }, 180_000);

  it("refuses bad requests with a JSON error and writes nothing of them", async () => {
    const mf = workerd();
    try {
      const before = (await readTopic(bootstrap, topics.clicks)).length;
      const send = (body: string, headers: Record<string, string>, path = `/topics/${topics.clicks}`) =>
        mf.dispatchFetch(`http://edge.test${path}`, { method: "POST", body, headers });
      const ok = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
      const cases: [ReturnType<Miniflare["dispatchFetch"]>, number, string][] = [
        [send("[]", { "content-type": "application/json" }), 401, "UNAUTHORIZED"],
        [send("[]", { ...ok, authorization: "Bearer not-the-right-token-xx" }), 401, "UNAUTHORIZED"],
        [send("x".repeat(1_100_000), ok), 413, "BODY_TOO_LARGE"],
        [send("[{", ok), 400, "INVALID_BODY"],
        [send("[]", { ...ok, "content-type": "text/csv" }), 415, "UNSUPPORTED_MEDIA_TYPE"],
        [send(JSON.stringify([{ value: { userId: "u9" } }]), ok), 400, "INVALID_RECORD"],
        [send("[]", ok, "/topics/no%20spaces"), 400, "INVALID_TOPIC"],
        [send("[]", ok, "/topics/another-topic"), 404, "UNKNOWN_TOPIC"],
      ];
      for (const [res, status, code] of cases) {
        const r = await res;
        const text = await r.text();
        expect([r.status, JSON.parse(text).error.code], text).toEqual([status, code]);
        expect(text).not.toMatch(/\bat .*:\d+:\d+/);
      }
      expect((await readTopic(bootstrap, topics.clicks)).length).toBe(before);
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});
