// Fuzzing (issue 14): arbitrary bytes and hostile JSON as records, and as bodies of the edge app's
// push endpoint. No crash, Object.prototype untouched, the accounting identity exact, every dead
// letter with its reason; the edge app answers every body with 2xx or a 4xx JSON error, never a 500
// or a stack trace. `npm test` runs a few thousand inputs; RIVULET_FUZZ_RUNS scales it (the full run:
// RIVULET_FUZZ_RUNS=80000 npx vitest run --project node test/unit/fuzz.test.ts: ~840K records and
// 240K bodies, ~2 minutes).
import fc from "fast-check";
import { count, Pipeline, run, tumbling } from "rivulet";
import { edgeApp } from "rivulet/edge";
import { MemoryBroker } from "rivulet/testing";
import { describe, expect, it } from "vitest";

const RUNS = Number(process.env.RIVULET_FUZZ_RUNS ?? 300);
const encoder = new TextEncoder();

/** Values a hostile producer might write: wrong types, deep nesting, prototype keys, odd numbers. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      null,
      true,
      0,
      -1,
      1e308,
      -1e308,
      Number.MAX_SAFE_INTEGER + 2,
      8.64e15 + 1,
      "",
      "__proto__",
      "constructor",
    ),
    fc.double(),
    fc.string({ unit: "binary", maxLength: 64 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom("__proto__", "constructor", "prototype", "ts", "user", "toString"),
        fc.string(),
      ),
      tie("value"),
      { maxKeys: 4 },
    ),
  ),
})).value;

/** A record's bytes: raw bytes, hostile JSON as text, deep nesting, a huge string. */
const recordBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  hostileJson.map((v) => encoder.encode(JSON.stringify(v) ?? "null")),
  fc.integer({ min: 1, max: 5_000 }).map((d) => encoder.encode(`${"[".repeat(d)}${"]".repeat(d)}`)),
  fc
    .integer({ min: 1, max: 200_000 })
    .map((n) => encoder.encode(JSON.stringify({ user: "x".repeat(n), ts: 1 }))),
  fc
    .record({ user: fc.string(), ts: fc.oneof(fc.double(), fc.integer(), fc.constant(-5)) })
    .map((v) => encoder.encode(JSON.stringify(v))),
);

const pipeline = () =>
  Pipeline.source<{ user: string; ts: number }>("in", {
    timestamp: (e) => e.ts,
    watermark: { maxOutOfOrderness: 1_000, maxFutureSkew: 86_400_000 },
  })
    .filter((e) => typeof e.user === "string")
    .keyBy((e) => e.user)
    .window(tumbling(60_000))
    .aggregate(count())
    .to("out");

describe("fuzzing: hostile input loses nothing and breaks nothing", () => {
  it("records of arbitrary bytes through a windowed pipeline: identity exact, reasons set, prototypes untouched", async () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    await fc.assert(
      fc.asyncProperty(fc.array(recordBytes, { minLength: 1, maxLength: 20 }), async (values) => {
        const broker = new MemoryBroker();
        await broker.createTopic("in", { partitions: 2 });
        await broker.produce(
          "in",
          values.map((value, i) => ({ key: `k${i % 3}`, value })),
        );
        const job = await run(pipeline(), {
          broker,
          onError: "dead-letter",
          limits: { maxRecordBytes: 100_000 },
        });
        await job.drain();
        const r = job.metrics().records;
        expect(r.in).toBe(values.length);
        expect(r.in).toBe(r.emitted + r.filtered + r.aggregated + r.late + r.deadLettered);
        const dead = await broker.records("rivulet-dlq").catch(() => []);
        expect(dead.length).toBe(r.deadLettered);
        for (const d of dead) {
          expect(d.headers?.["rivulet.error.reason"]).toMatch(/\S/);
          expect(d.headers?.["rivulet.error.stage"]).toMatch(/^(deserialize|timestamp|limit|keyBy|process)$/);
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.RIVULET_FUZZ_SEED ?? 14) },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 300_000);

  it("the edge push endpoint: any body gets 2xx or a 4xx JSON error, never a 500 or a stack", async () => {
    // The proxy it would write to answers from memory: a fetch that records what it got.
    let written = 0;
    const proxyFetch = async (request: Request) => {
      if (request.url.includes("/topics/") && request.method === "POST") {
        const body = (await request.json()) as { records: unknown[] };
        written += body.records.length;
        return Response.json(
          { offsets: body.records.map((_, i) => ({ partition: 0, offset: i })) },
          { headers: { "content-type": "application/vnd.kafka.v2+json" } },
        );
      }
      return Response.json({ error_code: 40401, message: "no" }, { status: 404 });
    };
    const app = edgeApp(() => ({
      auth: "none",
      proxy: { url: "http://proxy.test", fetch: proxyFetch, retry: { retries: 0 } },
      topics: ["clicks"],
      bodyLimit: 64 * 1024,
    }));
    const body = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      hostileJson.map((v) => JSON.stringify(v) ?? ""),
      fc.array(hostileJson, { maxLength: 5 }).map((v) => JSON.stringify(v)),
      fc
        .array(fc.record({ key: hostileJson, value: hostileJson, timestamp: hostileJson }), { maxLength: 5 })
        .map((v) => JSON.stringify(v)),
      fc.array(hostileJson, { maxLength: 5 }).map((v) => v.map((x) => JSON.stringify(x)).join("\n")),
      fc
        .array(fc.record({ key: fc.string(), value: hostileJson, timestamp: fc.nat() }), {
          minLength: 1,
          maxLength: 5,
        })
        .map((v) => JSON.stringify(v)),
    );
    const type = fc.constantFrom("application/json", "application/x-ndjson", "text/plain", "");
    await fc.assert(
      fc.asyncProperty(body, type, async (b, t) => {
        const res = await app.fetch(
          new Request("http://edge.test/topics/clicks", {
            method: "POST",
            body: b,
            headers: t ? { "content-type": t } : {},
          }),
        );
        expect(res.status === 200 || res.status === 202 || (res.status >= 400 && res.status < 500)).toBe(
          true,
        );
        const text = await res.text();
        expect(text).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
        if (res.status >= 400)
          expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String) } });
      }),
      { numRuns: RUNS * 3, seed: Number(process.env.RIVULET_FUZZ_SEED ?? 14) },
    );
    expect(written).toBeGreaterThan(0); // some bodies were valid and got through
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 300_000);
});
