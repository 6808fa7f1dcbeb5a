// Conformance row 2, Node on a real Kafka broker: every case's input produced with its explicit
// partitions into topics of its own, the pipeline run by `KafkaBroker` (exactly-once, the
// default) to the end, the outputs read back read_committed and compared with the oracle.
import { run } from "rivulet";
import { KafkaBroker } from "rivulet/node";
import { afterAll, describe, expect, inject, it } from "vitest";
import { readTopic, uniq } from "../kafka/kafka-helpers.js";
import { CASES, type CaseEnv, type ConformanceCase, prefixedEnv } from "./cases.js";
import { assertConforms } from "./compare.js";
import {
  type CaseRun,
  caseRunOptions,
  collectRun,
  decodeJsonText,
  loadInput,
  type OutputRecord,
} from "./harness.js";
import { oracle } from "./oracle.js";

const bootstrap = inject("kafkaBootstrap");
const timings: string[] = [];

afterAll(() => {
  if (timings.length > 0) console.log(`[conformance] Kafka row: ${timings.join("; ")}`);
});

/**
 * A topic read back as text (read_committed), values decoded. Waits for as many records as the
 * oracle has (the last transaction's markers land a little after its commit returns); when
 * fewer come, reads what is there, for the comparison to say what is missing.
 */
async function readDecoded(topic: string, expected: number): Promise<OutputRecord[]> {
  const records = await readTopic(bootstrap, topic, { min: expected, timeoutMs: 8_000 }).catch(() =>
    readTopic(bootstrap, topic),
  );
  return records.map((r) => ({ ...r, value: decodeJsonText(r.value) }));
}

/** Runs a case on Kafka to its end; `expected` says how many records to wait for per topic. */
async function runOnKafka(c: ConformanceCase, env: CaseEnv, expected: CaseRun): Promise<CaseRun> {
  const broker = new KafkaBroker({ brokers: [bootstrap], clientId: `conformance-${c.name}` });
  try {
    const n = await loadInput(broker, c, env);
    const job = await run(c.pipeline(env), {
      broker,
      ...caseRunOptions(c, env),
      group: uniq(`conf-${c.name}`),
      manual: true,
    });
    // Until every input record is read (a poll may come back empty while the group forms).
    const deadline = Date.now() + 30_000;
    while (job.metrics().records.in < n) {
      if (Date.now() > deadline)
        throw new Error(`case "${c.name}" on Kafka read ${job.metrics().records.in} of ${n} input records`);
      await job.flush();
    }
    await job.drain();
    expect(job.metrics().guarantee).toBe("exactly-once");
    const logical = new Map(c.outputs.map((t) => [env.topic(t), t]));
    return await collectRun(
      c,
      env,
      (t) => readDecoded(t, expected.topics[logical.get(t)!]?.length ?? 0),
      job.metrics().records,
    );
  } finally {
    await broker.close();
  }
}

describe("conformance, Node on Kafka (exactly-once)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s conforms to the oracle", async (_, c) => {
    const started = performance.now();
    // Topics of their own per run; event times yesterday, within any broker's retention.
    const env = prefixedEnv(`${uniq(`conf-${c.name}`)}.`, Date.now() - 86_400_000);
    const expected = await oracle(c, env);
    const got = await runOnKafka(c, env, expected);
    timings.push(`${c.name} ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assertConforms(`case "${c.name}" on Kafka`, expected, got);
  });
});
