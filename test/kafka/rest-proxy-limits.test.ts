// Rivulet's REST proxy's guards, as real `rivulet proxy` processes enforce them against the
// suite's real broker: bearer tokens, the body limit, the per-client rate limit (429 with
// Retry-After), consumer instance expiry, and the command line itself.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { restProxy } from "../../adapters/node/rest-proxy/app.js";
import { kafkaAdmin, uniq, until } from "./kafka-helpers.js";
import { BINARY, b64, call, createTopics, type ProxyProcess, startProxy, V2 } from "./rest-proxy-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const root = join(import.meta.dirname, "..", "..");
const topic = uniq("rp-limits");
let secured: ProxyProcess;
let limited: ProxyProcess;

beforeAll(async () => {
  await createTopics(bootstrap, [{ topic, partitions: 1 }]);
  [secured, limited] = await Promise.all([
    startProxy(bootstrap, [
      "--token",
      "t0ken-one",
      "--token",
      "t0ken-two",
      "--body-limit",
      "2048",
      "--instance-timeout",
      "1500",
      "--rate-limit",
      "0",
      "--cors-origin",
      "http://app.example:5173",
    ]),
    startProxy(bootstrap, ["--rate-limit", "2", "--rate-burst", "3"]),
  ]);
});

afterAll(async () => {
  expect(await secured?.stop()).toBe(0);
  expect(await limited?.stop()).toBe(0);
});

async function endOffset(): Promise<number> {
  const res = await call(secured.url, "GET", `/topics/${topic}/partitions/0/offsets`, { token: "t0ken-one" });
  return res.body.end_offset;
}

describe("CORS (--cors-origin): pages of the named origins only", () => {
  const app = "http://app.example:5173";
  it("a preflight from a named origin is answered before auth; other origins, and a proxy naming none, get no CORS headers", async () => {
    const preflight = (url: string, origin: string) =>
      fetch(`${url}/topics/${topic}`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
    const ok = await preflight(secured.url, app);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(app);
    expect(ok.headers.get("access-control-allow-methods")).toContain("POST");
    expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const other = await preflight(secured.url, "http://elsewhere.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    // A proxy that names no origin (the default) answers no preflight (the app in-process: the
    // limited proxy's rate budget is the next test's).
    const plain = restProxy({ brokers: [bootstrap], rateLimit: false });
    const none = await plain.request(`/topics/${topic}`, {
      method: "OPTIONS",
      headers: { origin: app, "access-control-request-method": "POST" },
    });
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
    await plain.close();
    // The real request still needs its token; its answer carries the header for the page.
    const refused = await fetch(`${secured.url}/topics`, { headers: { origin: app } });
    expect(refused.status).toBe(401);
    const served = await fetch(`${secured.url}/topics`, {
      headers: { origin: app, authorization: "Bearer t0ken-one" },
    });
    expect(served.status).toBe(200);
    expect(served.headers.get("access-control-allow-origin")).toBe(app);
  });
});

describe("bearer tokens", () => {
  it("no token, a wrong one or a malformed header: refused with a v2 error body; either valid token works", async () => {
    const none = await call(secured.url, "GET", "/topics");
    expect([none.status, none.body.error_code]).toEqual([401, 401]);
    expect(none.headers.get("content-type")).toBe(V2);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const wrong = await call(secured.url, "GET", "/topics", { token: "t0ken-three" });
    expect([wrong.status, wrong.body.error_code]).toEqual([401, 401]);
    const basic = await fetch(`${secured.url}/topics`, { headers: { authorization: "Basic dTpw" } });
    expect([basic.status, ((await basic.json()) as { error_code: number }).error_code]).toEqual([400, 400]);
    for (const token of ["t0ken-one", "t0ken-two"])
      expect((await call(secured.url, "GET", "/topics", { token })).status).toBe(200);

    const before = await endOffset();
    const produce = await call(secured.url, "POST", `/topics/${topic}`, {
      contentType: BINARY,
      body: { records: [{ value: b64("no token") }] },
    });
    expect(produce.status).toBe(401);
    expect(await endOffset()).toBe(before);
  });
});

describe("body limit", () => {
  it("a body over the limit is 413 and writes nothing; one under it goes through", async () => {
    const before = await endOffset();
    const big = await call(secured.url, "POST", `/topics/${topic}`, {
      token: "t0ken-one",
      contentType: BINARY,
      body: { records: [{ value: b64("x".repeat(1600)) }, { value: b64("y") }] },
    });
    expect([big.status, big.body.error_code]).toEqual([413, 413]);
    expect(big.headers.get("content-type")).toBe(V2);
    expect(await endOffset()).toBe(before);
    const ok = await call(secured.url, "POST", `/topics/${topic}`, {
      token: "t0ken-one",
      contentType: BINARY,
      body: { records: [{ value: b64("small") }] },
    });
    expect(ok.status).toBe(200);
    expect(await endOffset()).toBe(before + 1);
  });
});

describe("rate limit", () => {
  it("beyond the burst a client gets 429 with Retry-After; after that wait it is served again", async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await call(limited.url, "GET", "/brokers"));
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const r of refused) {
      expect(r.body.error_code).toBe(429);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const wait = Number(refused.at(-1)!.headers.get("retry-after"));
    await new Promise((r) => setTimeout(r, wait * 1000 + 50));
    expect((await call(limited.url, "GET", "/brokers")).status).toBe(200);
  });
});

describe("consumer instance expiry", () => {
  it("an idle instance is closed (40403 afterwards, its group left); one in use is not", async () => {
    const group = uniq("rp-expire");
    const token = "t0ken-two";
    const make = async () => {
      const res = await call(secured.url, "POST", `/consumers/${group}`, {
        token,
        body: { format: "binary", "auto.offset.reset": "earliest" },
      });
      expect(res.status).toBe(200);
      const path = `/consumers/${group}/instances/${res.body.instance_id}`;
      const assigned = await call(secured.url, "POST", `${path}/assignments`, {
        token,
        body: { partitions: [{ topic, partition: 0 }] },
      });
      expect(assigned.status).toBe(204);
      return path;
    };
    // In use: a fetch waiting longer than the timeout keeps its instance.
    const busy = await make();
    const long = await call(secured.url, "GET", `${busy}/records?timeout=2500&max_bytes=1`, {
      token,
      accept: BINARY,
    });
    expect(long.status).toBe(200);
    expect((await call(secured.url, "GET", `${busy}/assignments`, { token })).status).toBe(200);

    // Idle: gone after the timeout, and its member left the group.
    const idle = await make();
    await new Promise((r) => setTimeout(r, 2_500));
    for (const path of [idle, busy]) {
      const res = await call(secured.url, "GET", `${path}/records?timeout=10`, { token, accept: BINARY });
      expect([res.status, res.body.error_code]).toEqual([404, 40403]);
    }
    const admin = kafkaAdmin(bootstrap);
    await admin.connect();
    try {
      await until(async () => {
        const { groups } = await admin.describeGroups([group]);
        return groups[0]!.members.length === 0;
      }, "the expired instances left their group");
    } finally {
      await admin.disconnect();
    }
  });
});

describe("rivulet proxy (command line)", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(root, "bin", "rivulet.mjs"), ...args], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000); // by its pid
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  it("--help, usage errors (exit 2), and a Kafka it cannot reach (exit 1)", async () => {
    const help = await run(["proxy", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: rivulet proxy --brokers/);
    const top = await run(["--help"]);
    expect(top.stdout).toContain("proxy --brokers <list> --port <n>");
    const noPort = await run(["proxy", "--brokers", "127.0.0.1:1"]);
    expect(noPort.code).toBe(2);
    expect(noPort.stderr).toContain("--port <n> is required");
    const badBroker = await run(["proxy", "--brokers", "nope", "--port", "0"]);
    expect(badBroker.code).toBe(2);
    const badProducer = await run([
      "proxy",
      "--brokers",
      "127.0.0.1:1",
      "--port",
      "0",
      "--producer",
      "rdkafka",
    ]);
    expect(badProducer.code).toBe(2);
    expect(badProducer.stderr).toContain('--producer must be kafkajs or platformatic, got "rdkafka"');
    const badOrigin = await run(["proxy", "--brokers", "127.0.0.1:1", "--port", "0", "--cors-origin", "*"]);
    expect(badOrigin.code).toBe(2);
    expect(badOrigin.stderr).toContain(
      '--cors-origin must be an origin (scheme://host[:port], no path), got "*"',
    );
    const unreachable = await run(["proxy", "--brokers", "127.0.0.1:1", "--port", "0"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach Kafka at 127.0.0.1:1");
  });
});
