// rivulet/browser's fromBroker in real Chromium: a job in a Web Worker (IndexedDB) fed from a
// real Kafka topic through the project's own REST proxy process (`rivulet proxy --cors-origin`
// naming the page's origin), stopped and fed again from the group's committed offsets; the
// outputs against the same pipeline run in memory in Node on the same records.
import type { Server } from "node:http";
import { Kafka, logLevel } from "kafkajs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEFAULT_TOPICS, perMinute } from "../../adapters/edge/example/pipeline.js";
import { run } from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { clicks, row } from "../chaos/browser/clicks.js";
import { buildPage, type PageApi } from "../chaos/browser-worker.js";
import { launchChromium, serveStatic, stopServer, watchProblems } from "../playground/harness.js";
import { committedOffsets, uniq, until } from "./kafka-helpers.js";
import { type ProxyProcess, startProxy } from "./rest-proxy-helpers.js";

declare const chaos: PageApi;
const bootstrap = inject("kafkaBootstrap");
let server: Server;
let url: string;
let proxy: ProxyProcess;
let browser: Browser;

beforeAll(async () => {
  const site = await buildPage();
  ({ url, server } = await serveStatic(site, "/feed/"));
  proxy = await startProxy(bootstrap, ["--cors-origin", new URL(url).origin, "--rate-limit", "0"]);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (server) await stopServer(server);
  expect(await proxy?.stop()).toBe(0);
});

/** The input as Kafka has it: clicks as JSON text, one of them malformed. */
function input(n: number, bad: number) {
  return clicks(0, n).map((c, i) => ({
    key: c.key,
    value: i === bad ? "{not json" : JSON.stringify(c.value),
    timestamp: c.timestamp,
  }));
}

/** The same pipeline on the same records in memory, drained: outputs and dead-letter reasons. */
async function oracle(records: ReturnType<typeof input>) {
  const broker = new MemoryBroker();
  await broker.createTopic(DEFAULT_TOPICS.clicks, { partitions: 2 });
  await broker.produce(DEFAULT_TOPICS.clicks, records);
  const job = await run(perMinute(DEFAULT_TOPICS), { broker, manual: true, tasks: "per-partition" });
  await job.drain();
  const dead = await broker.records("rivulet-dlq").catch(() => []);
  return {
    rows: (await broker.records(DEFAULT_TOPICS.perMinute)).map(row).sort(),
    dead: dead.map((r) => r.headers["rivulet.error.reason"] ?? ""),
  };
}

/** The group's committed offset of the topic's one partition. */
const committed = async (group: string, topic: string) =>
  (await committedOffsets(bootstrap, group, topic))[0] ?? -1;

describe("fromBroker: a worker's topic fed from Kafka through the REST proxy", () => {
  it("everything read once, in order; stopped and fed again from the committed offsets; the in-memory run's outputs", async () => {
    // One partition: the feed hands the worker the records in the order the oracle gets them.
    const topic = uniq("browser-feed");
    const group = uniq("browser-feed");
    const records = input(12_000, 5_000);
    const kafka = new Kafka({ brokers: [bootstrap], clientId: "browser-feed", logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < records.length; i += 3_000)
      await producer.send({
        topic,
        acks: -1,
        messages: records
          .slice(i, i + 3_000)
          .map((r) => ({ key: r.key, value: r.value, timestamp: String(r.timestamp) })),
      });
    await producer.disconnect();

    const page: Page = await browser.newPage();
    const problems = watchProblems(page);
    await page.goto(url);
    await page.waitForFunction("document.title === 'ready'");
    await page.evaluate((db) => chaos.start(db), uniq("feed-db"));
    await page.evaluate(([u, t, g]) => chaos.feed(u!, [t!], g!), [proxy.url, topic, group]);
    await until(
      async () => ((await page.evaluate(() => chaos.feedStats()))?.produced ?? 0) >= 4_000,
      "the feed produced 4,000 records",
    );
    const first = await page.evaluate(() => chaos.stopFeed());
    expect(first.produced).toBeGreaterThanOrEqual(4_000);
    expect(first.produced).toBeLessThan(records.length);
    expect(first.failed).toBe(0);
    // What it produced, it committed at the source: the next feed goes on from there.
    expect(await committed(group, topic)).toBe(first.produced);

    await page.evaluate(([u, t, g]) => chaos.feed(u!, [t!], g!), [proxy.url, topic, group]);
    await until(
      async () =>
        ((await page.evaluate(() => chaos.feedStats()))?.produced ?? 0) === records.length - first.produced,
      "the second feed produced the rest",
    );
    const second = await page.evaluate(() => chaos.stopFeed());
    expect(second.produced).toBe(records.length - first.produced);
    expect(await committed(group, topic)).toBe(records.length);

    const got = await page.evaluate(() => chaos.finish());
    const want = await oracle(records);
    expect(got.inputs).toBe(records.length);
    expect(got.rows.sort()).toEqual(want.rows);
    expect(got.dead).toEqual(want.dead);
    expect(got.dead).toEqual(["SyntaxError: value is not valid JSON"]);
    expect(got.offsetsUnique).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
