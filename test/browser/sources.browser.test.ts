// The page's feeds (adapters/browser/sources.ts) into a real worker: WebSocket and EventSource
// messages (their events dispatched on an EventTarget standing in for the socket: the feeds
// only listen) and another broker's topic (fromBroker over an in-memory broker here; over
// Kafka through the REST proxy in test/kafka/browser-feed.test.ts).
import { RivuletError } from "rivulet";
import {
  fromBroker,
  fromEventSource,
  fromWebSocket,
  startWorker,
  type WorkerJobHandle,
} from "rivulet/browser";
import { MemoryBroker } from "rivulet/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type Click, DEFAULT_TOPICS } from "../../adapters/edge/example/pipeline.js";

const workerUrl = new URL("./fixtures/clicks.worker.ts", import.meta.url);
const handles: WorkerJobHandle[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.terminate();
});
const start = async () => {
  const h = await startWorker(workerUrl, { persist: false });
  handles.push(h);
  return h;
};
const click = (k: number): Click => ({ userId: `u${k % 3}`, kind: "click", ts: k * 1_000 });

describe("fromWebSocket and fromEventSource", () => {
  it("messages become records in batches; one that cannot be made is counted, not produced; stop writes what is gathered", async () => {
    const job = await start();
    await job.pause();
    const socket = new EventTarget();
    const errors: unknown[] = [];
    const feed = fromWebSocket(job, DEFAULT_TOPICS.clicks, socket as WebSocket, {
      batchSize: 4,
      maxDelayMs: 10_000,
      onError: (e) => errors.push(e),
    });
    for (let k = 0; k < 10; k++)
      socket.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(click(k)) }));
    socket.dispatchEvent(new MessageEvent("message", { data: "{not json" }));
    await feed.stop(); // the last 2 are written by stop (the delay is long)
    expect(feed.stats).toEqual({ received: 11, produced: 10, failed: 1 });
    expect(errors).toHaveLength(1);
    // After stop, nothing more is taken.
    socket.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(click(99)) }));
    const held = await job.records<Click>(DEFAULT_TOPICS.clicks);
    expect(held.map((r) => r.value.ts).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, k) => k * 1_000),
    );
  });

  it("an EventSource's named event, with the record made by toRecord", async () => {
    const job = await start();
    await job.pause();
    const source = new EventTarget();
    const feed = fromEventSource(job, DEFAULT_TOPICS.clicks, source as EventSource, {
      event: "click",
      toRecord: (m) => {
        const c = JSON.parse(m.data as string) as Click;
        return { key: c.userId, value: c, timestamp: c.ts };
      },
    });
    source.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(click(1)) })); // not the event
    source.dispatchEvent(new MessageEvent("click", { data: JSON.stringify(click(2)) }));
    await feed.stop();
    const held = await job.records<Click>(DEFAULT_TOPICS.clicks);
    expect(held.map((r) => [r.key, r.value.ts, r.timestamp])).toEqual([["u2", 2_000, 2_000]]);
  });
});

describe("fromBroker", () => {
  it("reads the source's topics from the group's committed offsets, produces each poll, commits; bytes arrive as text", async () => {
    const source = new MemoryBroker();
    await source.createTopic("upstream", { partitions: 2 });
    const enc = new TextEncoder();
    await source.produce(
      "upstream",
      Array.from({ length: 50 }, (_, k) => ({
        key: `u${k % 3}`,
        partition: k % 2,
        value: k % 3 === 0 ? click(k) : enc.encode(JSON.stringify(click(k))),
        timestamp: k * 1_000,
        headers: { n: String(k) },
      })),
    );
    // 10 of partition 0's records were taken by an earlier run of the feed.
    await source.commit({
      records: [],
      offsets: { group: "g", positions: [{ topic: "upstream", partition: 0, offset: 10 }] },
    });
    const job = await start();
    await job.pause();
    const feed = fromBroker(job, DEFAULT_TOPICS.clicks, {
      broker: source,
      topics: ["upstream"],
      group: "g",
      maxRecords: 7,
    });
    const ends = async () => (await source.committed("g", "upstream")).map((o) => o.offset).sort();
    const upstream = await source.records("upstream");
    const expected = upstream.filter((r) => r.partition !== 0 || r.offset >= 10);
    for (let i = 0; i < 200 && feed.stats.produced < expected.length; i++)
      await new Promise((r) => setTimeout(r, 20));
    await feed.stop();
    await feed.done;
    expect(feed.stats).toEqual({ received: expected.length, produced: expected.length, failed: 0 });
    const ends0 = upstream.filter((r) => r.partition === 0).length;
    expect(await ends()).toEqual([ends0, upstream.length - ends0].sort());
    const held = await job.records(DEFAULT_TOPICS.clicks);
    const seen = (r: { key: string | null; value: unknown; headers: Record<string, string> }) =>
      JSON.stringify([r.key, typeof r.value === "string" ? JSON.parse(r.value) : r.value, r.headers.n]);
    expect(held.map(seen).sort()).toEqual(
      expected
        .map((r) => ({
          ...r,
          value: r.value instanceof Uint8Array ? new TextDecoder().decode(r.value) : r.value,
        }))
        .map(seen)
        .sort(),
    );
  });

  it("bad options fail at once; a source that fails stops the feed with its error", async () => {
    const job = await start();
    expect(() =>
      fromBroker(job, "clicks", { broker: {} as MemoryBroker, topics: ["t"], group: "g" }),
    ).toThrow(RivuletError);
    const source = new MemoryBroker();
    expect(() => fromBroker(job, "clicks", { broker: source, topics: [], group: "g" })).toThrow(
      /options.topics/,
    );
    expect(() => fromBroker(job, "clicks", { broker: source, topics: ["t"], group: "" })).toThrow(
      /options.group/,
    );
    const feed = fromBroker(job, "clicks", { broker: source, topics: ["missing"], group: "g" });
    await expect(feed.done).rejects.toThrow(/missing/);
  });
});
