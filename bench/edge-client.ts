/**
 * The client's share of bench/edge.ts's q1 (issue 11), alone: `RestProxyBroker` + the engine
 * against the raw REST loop, both over an in-process stand-in for the proxy that answers at once
 * (fetches from pre-encoded JSON, produce requests read and answered without writing anything).
 * By CPU time of this process per input event, so it holds on a loaded machine where the wall
 * time of the real benchmark moves by 20%; it says nothing of the proxy's or the broker's costs.
 *
 *   taskset -c 0 node --expose-gc --import tsx bench/edge-client.ts [--events=60000] [--rounds=6]
 *
 * Both paths make what bench/edge.ts's make: the engine `run(q1, { broker: new RestProxyBroker(
 * { url, fetch }), state: new KeyValueStateStore(memoryStorage()), group, manual: true })` with
 * JobRunner's `maxBatch` (10 000) and `checkpointInterval` (+Infinity), `runFor` until all are
 * read; the raw loop fetch, `JSON.parse(Buffer.from(value, "base64"))`, keep bids, q1's
 * projection, one `POST /topics/{out}` and one `POST .../offsets` per fetch. Each answer of
 * `GET .../records` holds 11 000 records (as the real proxy's 4 MiB answers do). The first two
 * rounds warm up; the rounds alternate order.
 */
import { pathToFileURL } from "node:url";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "../adapters/edge/index.js";
import { run } from "../core/index.js";
import { generateNexmark, type NexmarkEvent } from "../core/testing.js";
import { EURO_RATE, type Q1Result, q1 } from "./nexmark/queries.js";

const PER_FETCH = 11_000;
const PARTITIONS = 6;
const V2 = "application/vnd.kafka.v2+json";
const BINARY = "application/vnd.kafka.binary.v2+json";

type Fetch = (input: Request | string, init?: RequestInit) => Promise<Response>;

/** Answers of a v2 proxy that has `n` events to give, in fetches of PER_FETCH. */
function standIn(chunks: readonly string[], n: number): Fetch {
  let next = 0;
  const json = (body: string) => new Response(body, { status: 200, headers: { "content-type": V2 } });
  return async (input, init) => {
    const req = typeof input === "string" ? new Request(input, init) : input;
    const path = new URL(req.url).pathname;
    if (req.method === "POST" && /^\/consumers\/[^/]+$/.test(path))
      return json(JSON.stringify({ instance_id: "i1", base_uri: "http://stand-in.test" }));
    if (req.method === "GET" && path.endsWith("/records"))
      return json(next < chunks.length ? chunks[next++]! : "[]");
    if (req.method === "POST" && /^\/topics\/[^/]+$/.test(path)) {
      const records = (JSON.parse(await req.text()) as { records: unknown[] }).records;
      return json(
        JSON.stringify({
          offsets: records.map(() => ({ partition: 0, offset: 0, error_code: null, error: null })),
        }),
      );
    }
    if (req.method === "GET" && /^\/topics\/[^/]+\/partitions$/.test(path))
      return json(JSON.stringify(Array.from({ length: PARTITIONS }, (_, partition) => ({ partition }))));
    if (req.method === "GET" && path.endsWith("/offsets"))
      return json(JSON.stringify({ beginning_offset: 0, end_offset: n }));
    return new Response(null, { status: 204 });
  };
}

async function engine(f: Fetch, n: number): Promise<void> {
  const broker = new RestProxyBroker({ url: "http://stand-in.test", fetch: f });
  const job = await run(q1("in", "out"), {
    broker,
    state: new KeyValueStateStore(memoryStorage()),
    group: "g",
    manual: true,
    maxBatch: 10_000,
    checkpointInterval: Number.POSITIVE_INFINITY,
  });
  let read = 0;
  while (read < n) read += (await job.runFor({ maxRecords: n - read, maxMs: 20_000 })).records;
  await job.stop();
  await broker.close();
}

async function raw(f: Fetch, n: number): Promise<void> {
  const call = async <T>(method: string, path: string, body?: string, accept = V2, type = V2) => {
    const res = await f(`http://stand-in.test${path}`, {
      method,
      ...(body === undefined ? {} : { body }),
      headers: { accept, "content-type": type },
    });
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const created = await call<{ instance_id: string }>(
    "POST",
    "/consumers/g",
    JSON.stringify({ format: "binary" }),
  );
  const instance = `/consumers/g/instances/${created.instance_id}`;
  await call("POST", `${instance}/assignments`, JSON.stringify({ partitions: [] }));
  let read = 0;
  while (read < n) {
    const records = await call<{ partition: number; offset: number; value: string }[]>(
      "GET",
      `${instance}/records?timeout=500&max_bytes=4194304`,
      undefined,
      BINARY,
    );
    if (records.length === 0) continue;
    const out: { key: null; value: string; timestamp: number }[] = [];
    const next = new Map<number, number>();
    for (const r of records) {
      next.set(r.partition, r.offset + 1);
      const e = JSON.parse(Buffer.from(r.value, "base64").toString()) as NexmarkEvent;
      if (e.kind !== "bid") continue;
      const b = e.bid;
      const q: Q1Result = {
        auction: b.auction,
        bidder: b.bidder,
        price: EURO_RATE * b.price,
        dateTime: b.dateTime,
        extra: b.extra,
      };
      out.push({
        key: null,
        value: Buffer.from(JSON.stringify(q)).toString("base64"),
        timestamp: e.timestamp,
      });
    }
    if (out.length > 0) await call("POST", "/topics/out", JSON.stringify({ records: out }), V2, BINARY);
    const offsets = [...next].map(([partition, offset]) => ({ topic: "in", partition, offset }));
    await call("POST", `${instance}/offsets`, JSON.stringify({ offsets }));
    read += records.length;
  }
}

export interface EdgeClientResult {
  /** Client CPU time per input event (µs), every timed round. */
  raw_us: number[];
  engine_us: number[];
  /** Medians, and raw / engine (the share of the raw loop's events/s the engine's client allows). */
  raw_median_us: number;
  engine_median_us: number;
  engine_vs_raw: number;
}

export async function edgeClientBench(events: number, rounds: number): Promise<EdgeClientResult> {
  const all = generateNexmark({ seed: 42 }, events);
  const records = all.map((e, i) => ({
    topic: "in",
    partition: i % PARTITIONS,
    offset: Math.floor(i / PARTITIONS),
    key: null,
    value: Buffer.from(JSON.stringify(e)).toString("base64"),
    timestamp: e.timestamp,
  }));
  const chunks: string[] = [];
  for (let i = 0; i < events; i += PER_FETCH) chunks.push(JSON.stringify(records.slice(i, i + PER_FETCH)));
  const paths: ["raw" | "engine", (f: Fetch, n: number) => Promise<void>][] = [
    ["raw", raw],
    ["engine", engine],
  ];
  const got = { raw: [] as number[], engine: [] as number[] };
  for (let round = 0; round < rounds + 2; round++)
    for (const [name, path] of round % 2 ? [...paths].reverse() : paths) {
      (globalThis as { gc?: () => void }).gc?.();
      const c0 = process.cpuUsage();
      await path(standIn(chunks, events), events);
      const c = process.cpuUsage(c0);
      if (round >= 2) got[name].push(Number(((c.user + c.system) / events).toFixed(2)));
    }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const r = median(got.raw);
  const e = median(got.engine);
  return {
    raw_us: got.raw,
    engine_us: got.engine,
    raw_median_us: r,
    engine_median_us: e,
    engine_vs_raw: Number((r / e).toFixed(3)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const option = (name: string) =>
    process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const r = await edgeClientBench(Number(option("events") ?? 60_000), Number(option("rounds") ?? 6));
  console.error(
    `client CPU per event: raw ${r.raw_us.join(", ")} us (median ${r.raw_median_us}); engine ${r.engine_us.join(", ")} us (median ${r.engine_median_us}); raw / engine ${r.engine_vs_raw}`,
  );
  console.log(JSON.stringify(r));
}
