// RestProxyBroker against Rivulet's REST proxy (a real process, with a token and a short consumer
// instance timeout) on the real broker: what a long-lived edge job meets besides faults.
import { run } from "rivulet";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "rivulet/edge";
import { KafkaBroker } from "rivulet/node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readTopic, uniq } from "./kafka-helpers.js";
import { type ProxyProcess, startProxy } from "./rest-proxy-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const TOKEN = "edge-broker-test-token-0123";
let proxy: ProxyProcess;
let kafka: KafkaBroker;

beforeAll(async () => {
  proxy = await startProxy(bootstrap, ["--token", TOKEN, "--instance-timeout", "1500", "--rate-limit", "0"]);
  kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "edge-broker-test" });
});
afterAll(async () => {
  await kafka?.close();
  await proxy?.stop();
});

describe("RestProxyBroker on Rivulet's REST proxy", () => {
  it("a consumer instance the proxy expired while the job was idle is made again: nothing lost, nothing read twice", async () => {
    const input = uniq("edge-in");
    const output = uniq("edge-out");
    for (const t of [input, output, "rivulet-dlq"]) await kafka.createTopic(t, { partitions: 2 });
    const values = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        topic: input,
        key: `k${(from + i) % 3}`,
        value: { n: from + i },
      }));
    await kafka.commit({ records: values(0, 40) });
    const broker = new RestProxyBroker({ url: proxy.url, token: TOKEN, fetchTimeout: 100 });
    const { Pipeline } = await import("rivulet");
    const p = Pipeline.source<{ n: number }>(input, { timestamp: () => 1 })
      .map((v) => ({ doubled: v.n * 2 }))
      .to(output);
    const job = await run(p, {
      broker,
      state: new KeyValueStateStore(memoryStorage()),
      group: uniq("g"),
      manual: true,
    });
    expect(await job.runFor({ maxMs: 10_000 })).toMatchObject({ records: 40, caughtUp: true });
    // Idle past the proxy's instance timeout: its consumer instance is gone.
    await new Promise((r) => setTimeout(r, 3_000));
    await kafka.commit({ records: values(40, 20) });
    expect(await job.runFor({ maxMs: 10_000 })).toMatchObject({ records: 20, caughtUp: true });
    await job.stop();
    await broker.close();
    const out = await readTopic(bootstrap, output, { min: 60 });
    const doubled = out
      .map((r) => (JSON.parse(r.value!) as { doubled: number }).doubled)
      .sort((a, b) => a - b);
    expect(doubled).toEqual(Array.from({ length: 60 }, (_, i) => i * 2));
  }, 60_000);

  it("an instance gone between its creation and its assignment (the proxy restarted in between) is made again", async () => {
    // Found by the chaos suite (test/chaos, edge-proxy): a proxy stopping answered the creation,
    // the one started after it did not know the instance, and the job failed with 40403.
    const input = uniq("edge-gone-in");
    const output = uniq("edge-gone-out");
    for (const t of [input, output, "rivulet-dlq"]) await kafka.createTopic(t, { partitions: 2 });
    await kafka.commit({
      records: Array.from({ length: 30 }, (_, i) => ({ topic: input, key: `k${i % 3}`, value: { n: i } })),
    });
    // The first two assignments find their instance deleted just before (as a restart does).
    let gone = 0;
    const fetchGone = async (request: Request): Promise<Response> => {
      if (request.method === "POST" && request.url.endsWith("/assignments") && gone < 2) {
        gone++;
        const instance = request.url.slice(0, -"/assignments".length);
        await fetch(instance, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}` } });
      }
      return fetch(request);
    };
    const broker = new RestProxyBroker({ url: proxy.url, token: TOKEN, fetchTimeout: 100, fetch: fetchGone });
    const { Pipeline } = await import("rivulet");
    const p = Pipeline.source<{ n: number }>(input, { timestamp: () => 1 })
      .map((v) => ({ n: v.n }))
      .to(output);
    const job = await run(p, {
      broker,
      state: new KeyValueStateStore(memoryStorage()),
      group: uniq("g"),
      manual: true,
    });
    expect(await job.runFor({ maxMs: 10_000 })).toMatchObject({ records: 30, caughtUp: true });
    expect(gone).toBe(2);
    await job.stop();
    await broker.close();
    const out = await readTopic(bootstrap, output, { min: 30 });
    expect(out.map((r) => (JSON.parse(r.value!) as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  }, 60_000);

  it("a fetch answered but lost before the job knew where its partitions start loses nothing", async () => {
    // Found by the chaos suite (test/chaos, edge-proxy, some seeds): the proxy handed out the
    // first records of partitions the job had no position for yet; the answer was lost, and
    // seeking back could not name where those partitions start, so their records never came.
    const input = uniq("edge-lost-in");
    const output = uniq("edge-lost-out");
    for (const t of [input, output, "rivulet-dlq"]) await kafka.createTopic(t, { partitions: 2 });
    await kafka.commit({
      records: Array.from({ length: 40 }, (_, i) => ({ topic: input, key: `k${i % 4}`, value: { n: i } })),
    });
    let lost = 0;
    const fetchLost = async (request: Request): Promise<Response> => {
      const res = await fetch(request);
      if (request.method === "GET" && request.url.includes("/records?") && lost === 0) {
        const body = await res.text();
        if (body.length > 2) {
          lost++;
          throw new TypeError("fetch failed (the answer was lost on its way)");
        }
        return new Response(body, { status: res.status, headers: res.headers });
      }
      return res;
    };
    const broker = new RestProxyBroker({ url: proxy.url, token: TOKEN, fetchTimeout: 100, fetch: fetchLost });
    const { Pipeline } = await import("rivulet");
    const p = Pipeline.source<{ n: number }>(input, { timestamp: () => 1 })
      .map((v) => ({ n: v.n }))
      .to(output);
    const job = await run(p, {
      broker,
      state: new KeyValueStateStore(memoryStorage()),
      group: uniq("g"),
      manual: true,
    });
    expect(await job.runFor({ maxMs: 20_000 })).toMatchObject({ records: 40, caughtUp: true });
    expect(lost).toBe(1);
    await job.stop();
    await broker.close();
    const out = await readTopic(bootstrap, output, { min: 40 });
    expect(out.map((r) => (JSON.parse(r.value!) as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
  }, 60_000);

  it("an instance whose assignment failed is deleted, not left to join the group beside the next one", async () => {
    const input = uniq("edge-left-in");
    await kafka.createTopic(input, { partitions: 2 });
    let instance: string | undefined;
    // The proxy answers every assignment 503 (overloaded), until the caller gives up.
    const fetch503 = async (request: Request): Promise<Response> => {
      if (request.method === "POST" && request.url.endsWith("/assignments")) {
        instance = request.url.slice(0, -"/assignments".length);
        return new Response(JSON.stringify({ error_code: 50003, message: "overloaded" }), {
          status: 503,
          headers: { "content-type": "application/vnd.kafka.v2+json" },
        });
      }
      return fetch(request);
    };
    const broker = new RestProxyBroker({
      url: proxy.url,
      token: TOKEN,
      fetch: fetch503,
      retry: { retries: 1, initialMs: 1, maxMs: 1 },
    });
    await expect(broker.consumer({ group: uniq("g"), topics: [input] })).rejects.toMatchObject({
      message: expect.stringMatching(/assigning 2 partitions/),
    });
    expect(instance).toBeDefined();
    const left = await fetch(`${instance}/assignments`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(left.status).toBe(404);
    await broker.close();
  });

  it("the caller's own mistakes are clear, non-retriable errors at once", async () => {
    const started = Date.now();
    const wrong = new RestProxyBroker({ url: proxy.url, token: "not-the-token-at-all-xx" });
    await expect(wrong.partitions("anything")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      retriable: false,
      message: expect.stringMatching(/answered 401/),
    });
    const broker = new RestProxyBroker({ url: proxy.url, token: TOKEN });
    expect(await broker.partitions(uniq("missing"))).toBeUndefined();
    await expect(
      broker.commit({ records: [{ topic: uniq("missing"), key: null, value: 1 }] }),
    ).rejects.toMatchObject({ code: "UNKNOWN_TOPIC", retriable: false });
    await expect(broker.createTopic(uniq("new"))).rejects.toThrow(/a REST proxy cannot create topics/);
    expect(Date.now() - started).toBeLessThan(5_000); // no retries of any of these
  });
});
