// The edge app's own checks: what it refuses before it ever talks to a REST proxy (the proxy and
// workerd runs are in test/kafka/edge*.test.ts).
import { describe, expect, it } from "vitest";
import { edgeApp } from "./app.js";
import { signRequest } from "./auth.js";

const TOKEN = "a-token-of-at-least-16-chars";
const SECRET = "a-secret-of-at-least-16-chars";
// Nothing listens there: a request that got as far as the proxy would fail with a 503.
const proxy = { url: "http://127.0.0.1:9", retry: { retries: 0 }, requestTimeout: 500 };

const bearer = edgeApp(() => ({ auth: { token: TOKEN }, proxy, topics: ["clicks"], bodyLimit: 1024 }));
const hmac = edgeApp(() => ({ auth: { hmacSecret: SECRET }, proxy, topics: ["clicks"] }));

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  bearer.fetch(
    new Request(`http://edge.test${path}`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    }),
  );

async function expectError(
  res: Response | Promise<Response>,
  status: number,
  code: string,
  message?: RegExp,
) {
  const r = await res;
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/application\/json/);
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\(.*:\d+:\d+\)/); // no stack trace
  return body;
}

describe("edgeApp refuses bad requests with a JSON error and writes nothing", () => {
  it("health needs no token; everything else does, compared as a bearer token", async () => {
    expect((await bearer.fetch(new Request("http://edge.test/health"))).status).toBe(200);
    await expectError(bearer.fetch(new Request("http://edge.test/metrics")), 401, "UNAUTHORIZED", /Bearer/);
    await expectError(
      bearer.fetch(
        new Request("http://edge.test/metrics", {
          headers: { authorization: "Bearer wrong-token-wrong-token" },
        }),
      ),
      401,
      "UNAUTHORIZED",
      /not valid/,
    );
    await expectError(post("/metrics", ""), 404, "NOT_FOUND");
    // Security headers on every answer.
    const r = await bearer.fetch(new Request("http://edge.test/health"));
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("access-control-allow-origin")).toBeNull(); // CORS is off unless asked for
  });

  it("oversize bodies, wrong content types, malformed JSON, records without timestamps, bad topics", async () => {
    await expectError(post("/topics/clicks", "x".repeat(2_000)), 413, "BODY_TOO_LARGE");
    await expectError(
      post("/topics/clicks", "[]", { "content-type": "text/plain" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    await expectError(post("/topics/clicks", "[{"), 400, "INVALID_BODY", /not JSON/);
    await expectError(post("/topics/clicks", '{"value":1}'), 400, "INVALID_BODY", /array/);
    const missing = await expectError(
      post("/topics/clicks", JSON.stringify([{ value: 1, timestamp: 5 }, { value: 2 }, { timestamp: 3 }])),
      400,
      "INVALID_RECORD",
      /^record 1: timestamp is missing/,
    );
    expect((missing.error as unknown as { invalid: unknown[] }).invalid).toEqual([
      { index: 1, reason: "timestamp is missing (epoch milliseconds of the event)" },
      { index: 2, reason: "value is missing" },
    ]);
    await expectError(
      post("/topics/clicks", '{"value":1,"timestamp":-4}\nnot json\n', {
        "content-type": "application/x-ndjson",
      }),
      400,
      "INVALID_RECORD",
      /^record 0: timestamp must be a non-negative integer/,
    );
    await expectError(post("/topics/bad%20name", "[]"), 400, "INVALID_TOPIC", /may only contain/);
    await expectError(post("/topics/orders", "[]"), 404, "UNKNOWN_TOPIC");
    await expectError(post("/topics/clicks", "[]", { "idempotency-key": "a b" }), 400, "INVALID_HEADER");
    // Valid records get as far as the proxy, which is not there: a 503 saying so.
    await expectError(
      post("/topics/clicks", JSON.stringify([{ value: 1, timestamp: 5 }])),
      503,
      "BROKER",
      /cannot reach/,
    );
  });

  it("HMAC: the signature of timestamp and body, checked in constant time, not too old", async () => {
    const body = JSON.stringify([]);
    const send = (headers: Record<string, string>) =>
      hmac.fetch(
        new Request("http://edge.test/topics/clicks", {
          method: "POST",
          body,
          headers: { "content-type": "application/json", ...headers },
        }),
      );
    await expectError(send({}), 401, "UNAUTHORIZED", /required/);
    await expectError(
      send(await signRequest("another-secret-16chars", body)),
      401,
      "UNAUTHORIZED",
      /does not match/,
    );
    await expectError(
      send(await signRequest(SECRET, body, Date.now() - 3_600_000)),
      401,
      "UNAUTHORIZED",
      /too far/,
    );
    const tampered = await signRequest(SECRET, "[1]");
    await expectError(send(tampered), 401, "UNAUTHORIZED", /does not match/);
    const ok = await send(await signRequest(SECRET, body));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ accepted: 0, deadLettered: 0, written: 0 });
  });

  it("a rate limit per client address: beyond the burst 429 with Retry-After, before auth; others unaffected", async () => {
    const limited = edgeApp(() => ({
      auth: { token: TOKEN },
      proxy,
      rateLimit: { requestsPerSecond: 0.5, burst: 3 },
    }));
    const from = (ip: string, token = TOKEN) =>
      limited.fetch(
        new Request("http://edge.test/metrics", {
          headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": ip },
        }),
      );
    // No job configured: an authenticated /metrics is 404; a wrong token 401; both count.
    expect((await from("10.0.0.1")).status).toBe(404);
    expect((await from("10.0.0.1", "guessing-a-token-0000")).status).toBe(401);
    expect((await from("10.0.0.1")).status).toBe(404);
    const refused = await from("10.0.0.1");
    await expectError(refused.clone(), 429, "TOO_MANY_REQUESTS", /try again in 2 s/);
    expect(refused.headers.get("retry-after")).toBe("2");
    expect((await from("10.0.0.2")).status).toBe(404);
    // Health is never limited (load balancers poll it).
    expect(
      (
        await limited.fetch(
          new Request("http://edge.test/health", { headers: { "cf-connecting-ip": "10.0.0.1" } }),
        )
      ).status,
    ).toBe(200);
  });

  it("a misconfigured app (a short token) answers 500 naming the problem, health still 200", async () => {
    const weak = edgeApp(() => ({ auth: { token: "short" }, proxy }));
    expect((await weak.fetch(new Request("http://x/health"))).status).toBe(200);
    await expectError(
      weak.fetch(new Request("http://x/metrics")),
      500,
      "MISCONFIGURED",
      /at least 16 characters/,
    );
  });
});
