// Child processes running test/fixtures/eos-worker.ts, started and stopped by their pid.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { run, type TaskMode } from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { type Ev, eosEvents, eosPipeline } from "../fixtures/eos-pipeline.js";

const root = join(import.meta.dirname, "..", "..");

export interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
}

export function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures/eos-worker.ts")], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes("ready")) resolve();
    };
    child.stdout!.on("data", check);
    void exited.then((code) => reject(new Error(`worker exited (${code}) before it was ready:\n${out}`)));
  });
  ready.catch(() => {});
  return { child, ready, exited, output: () => out };
}

/** Records the worker has read and checkpoints it has committed so far (its last `progress` line). */
export function progress(w: Worker): { records: number; checkpoints: number } {
  const last = [...w.output().matchAll(/^progress (\d+) (\d+)$/gm)].at(-1);
  return { records: Number(last?.[1] ?? 0), checkpoints: Number(last?.[2] ?? 0) };
}

/** SIGKILL by pid and wait for the exit. */
export async function kill(w: Worker): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await w.exited;
}

/** A test's own topics and group, and the environment of the workers it starts. */
export function scenario(
  bootstrap: string,
  name: string,
  options: { outOfOrderness?: number; tasks?: TaskMode } = {},
) {
  const id = randomUUID().slice(0, 8);
  const input = `${name}-in-${id}`;
  const output = `${name}-out-${id}`;
  const group = `${name}-${id}`;
  const env = (instance: number, extra: Record<string, string> = {}): Record<string, string> => ({
    RIVULET_BROKERS: bootstrap,
    RIVULET_GROUP: group,
    RIVULET_INPUT: input,
    RIVULET_OUTPUT: output,
    RIVULET_INSTANCE: String(instance),
    ...(options.outOfOrderness === undefined
      ? {}
      : { RIVULET_OUT_OF_ORDERNESS: String(options.outOfOrderness) }),
    ...(options.tasks === undefined ? {} : { RIVULET_TASKS: options.tasks }),
    ...extra,
  });
  return { kafka: kafkaClient(bootstrap), input, output, group, env };
}

export function kafkaClient(bootstrap: string): Kafka {
  return new Kafka({ brokers: [bootstrap], clientId: "rivulet-test", logLevel: logLevel.NOTHING });
}

export async function produceEvents(
  kafka: Kafka,
  topic: string,
  events: Ev[],
  partitions: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
  await appendEvents(kafka, topic, events);
}

/**
 * Appends events to an existing topic, keyed by their key. Idempotent: a send retried on a
 * loaded machine must not write an event twice (the tests compare the output with the input's).
 */
export async function appendEvents(kafka: Kafka, topic: string, events: Ev[]): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  for (let i = 0; i < events.length; i += 5_000)
    await producer.send({
      topic,
      messages: events
        .slice(i, i + 5_000)
        .map((e) => ({ key: e.k, value: JSON.stringify(e), timestamp: String(e.ts) })),
    });
  await producer.disconnect();
}

/** Every committed record of a topic (read_committed), as sorted JSON lines. */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 60_000,
): Promise<string[]> {
  const consumer = kafka.consumer({
    groupId: `reader-${Math.random().toString(36).slice(2)}`,
    readUncommitted: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const rows: string[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        rows.push(`${message.key?.toString()} ${message.value?.toString()}`);
        if (rows.length >= expected) {
          clearTimeout(timer);
          // A little longer: duplicates, if any, must show up too.
          setTimeout(resolve, 1_500);
        }
      },
    });
  });
  await consumer.disconnect();
  return rows.sort();
}

/**
 * The end of a bounded run: one more member drains the group (firing the windows still open)
 * and exits 0; then every committed output record, as {@link readCommitted} gives them.
 */
export async function drainAndRead(
  env: Record<string, string>,
  kafka: Kafka,
  output: string,
  expected: number,
): Promise<string[]> {
  const last = startWorker({ ...env, RIVULET_DRAIN: "1" });
  const code = await last.exited;
  if (code !== 0) throw new Error(`the draining member exited with ${code}:\n${last.output()}`);
  return readCommitted(kafka, output, expected);
}

/** What the pipeline writes for these events on the in-memory broker, in the same shape. */
export async function expectedOutput(
  events: Ev[],
  partitions: number,
  maxOutOfOrderness?: number,
  tasks: TaskMode = "shared",
): Promise<string[]> {
  const broker = new MemoryBroker();
  await broker.createTopic("in", { partitions });
  await broker.produce(
    "in",
    events.map((e) => ({ key: e.k, value: e, timestamp: e.ts })),
  );
  const job = await run(eosPipeline("in", "out", maxOutOfOrderness), { broker, tasks });
  await job.drain();
  return broker
    .recordsSync("out")
    .map((r) => `${r.key} ${JSON.stringify(r.value)}`)
    .sort();
}

export { eosEvents };

/** Waits until the group's committed offsets cover at least `fraction` of the topic (1: lag 0). */
export async function waitForProgress(
  kafka: Kafka,
  group: string,
  topic: string,
  fraction = 1,
  timeoutMs = 120_000,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      let total = 0;
      let lag = 0;
      for (const e of ends) {
        const c = committed?.partitions.find((p) => p.partition === e.partition);
        total += Number(e.high);
        lag += Number(e.high) - Math.max(0, Number(c?.offset ?? 0));
      }
      if (fraction >= 1 ? lag === 0 : total - lag >= fraction * total) return (total - lag) / total;
      if (Date.now() > deadline) throw new Error(`group ${group} still lags by ${lag} on ${topic}`);
      await new Promise((r) => setTimeout(r, fraction >= 1 ? 500 : 50));
    }
  } finally {
    await admin.disconnect();
  }
}
