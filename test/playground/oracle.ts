// The playground's pipelines run in Node on the in-memory broker: what the page must match.
// The same example text, transpiled and evaluated by the same modules the worker uses, on the
// same generated records.
import * as rivulet from "rivulet";
import { describePipeline, type JobMetrics, run, type TaskMode } from "rivulet";
import * as testing from "rivulet/testing";
import { MemoryBroker } from "rivulet/testing";
import { EventSource, type GeneratorSettings } from "../../playground/src/generators.js";
import { transpile } from "../../playground/src/transpile.js";
import { evaluatePipeline } from "../../playground/src/user-module.js";
import type { CaseRun, OutputRecord } from "../conformance/harness.js";

/** The dead-letter topic the playground gives every job. */
export const DEAD_LETTERS = "dead-letters";

export interface NodeRun extends CaseRun {
  counts: JobMetrics["records"];
  /** Records produced per source topic. */
  produced: Record<string, number>;
}

/** Runs `code` on `topics` fed by `generators` (each to its limit), drained, in memory. */
export async function runInNode(
  code: string,
  topics: Readonly<Record<string, number>>,
  generators: readonly GeneratorSettings[],
  tasks: TaskMode,
): Promise<NodeRun> {
  const t = transpile(code);
  if (!t.ok) throw new Error(`line ${t.line}: ${t.message}`);
  const pipeline = evaluatePipeline(t.code, { rivulet, "rivulet/testing": testing });
  const broker = new MemoryBroker();
  for (const [name, partitions] of Object.entries(topics)) await broker.createTopic(name, { partitions });
  const produced: Record<string, number> = {};
  for (const g of generators) {
    if (g.limit <= 0) throw new Error(`generator for ${g.topic} has no limit`);
    const records = new EventSource(g, topics[g.topic] ?? 1).batch(0, g.limit);
    await broker.produce(g.topic, records);
    produced[g.topic] = records.length;
  }
  const job = await run(pipeline, { broker, manual: true, tasks, deadLetterTopic: DEAD_LETTERS });
  await job.drain();
  const out: Record<string, OutputRecord[]> = {};
  for (const topic of [...describePipeline(pipeline).outputs, DEAD_LETTERS])
    out[topic] = (await broker.records(topic)).map(
      ({ partition, offset, key, value, timestamp, headers }) => ({
        partition,
        offset,
        key,
        value,
        timestamp,
        headers,
      }),
    );
  return { topics: out, counts: job.metrics().records, produced };
}
