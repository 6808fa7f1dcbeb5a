// The benchmark's brokers (bench/nexmark/generator-broker.ts): events generated as the job polls
// (NexmarkGeneratorBroker, "with generation") and events made up front, each poll a window of
// one array (PreloadedNexmarkBroker, "without generation"). Both must hand the engine exactly the
// stream that `generateNexmark` makes, in polls of any size, so that a query writes what it
// writes on the in-memory broker.
import { describe, expect, it } from "vitest";
import { NexmarkGeneratorBroker, PreloadedNexmarkBroker } from "../../bench/nexmark/generator-broker.js";
import { QUERIES, type QueryName } from "../../bench/nexmark/queries.js";
import { outputOf, run, type Transaction } from "../../core/index.js";
import { generateNexmark, MemoryBroker, type NexmarkConfig } from "../../core/testing.js";

const CONFIG: NexmarkConfig = { seed: 5, firstEventRate: 200 };
const N = 12_345;

/** Keeps the outputs' values too (the blackhole sink only counts them). */
function capturing<B extends NexmarkGeneratorBroker>(broker: B): B & { values: unknown[] } {
  const values: unknown[] = [];
  const commit = broker.commit.bind(broker);
  broker.commit = async (tx: Transaction) => {
    await commit(tx);
    const out = outputOf(tx.records);
    for (let i = 0; i < out.length; i++) values.push(out.values[i]);
  };
  return Object.assign(broker, { values });
}

async function onMemory(q: QueryName): Promise<unknown[]> {
  const broker = new MemoryBroker();
  await broker.createTopic("nexmark", { partitions: 1 });
  broker.produceSync(
    "nexmark",
    generateNexmark(CONFIG, N).map((e) => ({ value: e, timestamp: e.timestamp })),
  );
  const job = await run(QUERIES[q]("nexmark", "out"), { broker, manual: true });
  await job.drain();
  return (await broker.records("out")).map((r) => r.value);
}

async function onBroker(
  q: QueryName,
  broker: NexmarkGeneratorBroker & { values: unknown[] },
  maxBatch: number,
): Promise<unknown[]> {
  const job = await run(QUERIES[q]("nexmark", "out"), { broker, manual: true, maxBatch });
  await job.drain();
  const m = job.metrics().records;
  expect(m.in).toBe(N);
  expect(broker.written.get("out")).toBe(broker.values.length);
  return broker.values;
}

describe("the benchmark's Nexmark brokers", () => {
  for (const q of ["q1", "q2", "q5"] as const) {
    it(`${q}: with and without generation, polls of 1000 and 77, the in-memory broker's output`, async () => {
      const expected = await onMemory(q);
      expect(expected.length).toBeGreaterThan(0);
      const events = generateNexmark(CONFIG, N);
      const timestamps = Float64Array.from(events, (e) => e.timestamp);
      for (const maxBatch of [1000, 77]) {
        const generated = capturing(new NexmarkGeneratorBroker("nexmark", CONFIG, N));
        expect(await onBroker(q, generated, maxBatch)).toEqual(expected);
        const preloaded = capturing(new PreloadedNexmarkBroker("nexmark", events, timestamps));
        expect(await onBroker(q, preloaded, maxBatch)).toEqual(expected);
      }
    });
  }
});
