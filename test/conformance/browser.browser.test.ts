// Conformance row 5, the browser: every case's pipeline in a module Web Worker (rivulet/browser:
// startWorker/exposeJob through Comlink), its topics, offsets and state in IndexedDB, the input
// produced from the page; the outputs compared with the oracle computed on the page.
import type { ProduceRecord } from "rivulet";
import { startWorker } from "rivulet/browser";
import { describe, it } from "vitest";
import { CASES, prefixedEnv } from "./cases.js";
import { assertConforms } from "./compare.js";
import { caseRunOptions, collectRun, inputRecords } from "./harness.js";
import { oracle } from "./oracle.js";

describe("conformance, browser: a Web Worker with IndexedDB (exactly-once in the page)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s conforms to the oracle", async (_, c) => {
    const prefix = `b${Math.random().toString(36).slice(2, 8)}.`;
    const env = prefixedEnv(prefix, Date.UTC(2026, 0, 1));
    const expected = await oracle(c, env);
    const url = new URL("../browser/fixtures/conformance.worker.ts", import.meta.url);
    url.searchParams.set("case", c.name);
    url.searchParams.set("prefix", prefix);
    url.searchParams.set("base", String(env.base));
    const topics = Object.fromEntries(Object.entries(c.sources).map(([t, n]) => [env.topic(t), n]));
    const job = await startWorker(url, {
      database: `conformance-${prefix}`,
      topics,
      run: caseRunOptions(c, env),
    });
    try {
      // The input as loadInput writes it: each topic's records in order, partitions as given.
      const byTopic = new Map<string, ProduceRecord[]>();
      for (const r of inputRecords(c, env)) {
        const { topic, ...rest } = r;
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), rest]);
      }
      await job.pause(); // all input first, as the other rows have it before their job starts
      for (const [topic, records] of byTopic) await job.produce(topic, records);
      await job.resume();
      await job.drain();
      const got = await collectRun(
        c,
        env,
        async (t) =>
          (await job.records(t)).map(({ partition, offset, key, value, timestamp, headers }) => ({
            partition,
            offset,
            key,
            value,
            timestamp,
            headers,
          })),
        (await job.metrics()).records,
      );
      assertConforms(`case "${c.name}" in a Web Worker`, expected, got);
    } finally {
      job.terminate();
    }
  });
});
