// A Rivulet job on the real broker in a process of its own, for the chaos scenarios to kill,
// pause and restart: exactly-once (KafkaBroker), state in the Kafka changelog
// (KafkaChangelogStore), per-partition tasks. Like test/fixtures/eos-worker.ts, plus lines that
// say where the job is, so that kills can be aimed:
//
//   ready                          the job runs
//   progress <in> <checkpoints>    records read and checkpoints committed so far
//   event commit-start <n>         commit n began (outputs, offsets and checkpoint: one transaction)
//   event commit-end <n> ok|fail   ... and ended
//   event restore-start            the member took partitions over and reads their state
//   event restore-end              ... and has restored it (the poll that took them over returned)
//   event die <where> <stage>      it SIGKILLs itself now (see below)
//   stats <json>                   (RIVULET_STATS_MS) heap after GC, RSS, windows held, state bytes
//   done <json>                    stopped (SIGTERM) or drained (RIVULET_DRAIN=1); counters
// (RIVULET_EVENTS=0: no commit lines but failed ones, for a long run.)
//
// A commit or a restore takes a few milliseconds: a SIGKILL sent from outside when the line
// shows up lands after it, mostly. So the runner aims such kills through the IPC channel, and
// the process SIGKILLs itself at the point named, which is the same crash at a known moment:
//   { die: "commit", stage }   in its next commit: "sent" (records written in the open
//                              transaction), "offsets" (offsets added too), "ending" (the
//                              commit request sent, its answer not awaited: outcome unknown)
//   RIVULET_DIE_IN_RESTORE     in its first restore: "settle" (reading the changelog to its
//                              end), "offsets" (changelog read, offsets not yet), "load" (loading
//                              a section's snapshot)
// It kills itself too when the runner is gone (the IPC channel closes): never an orphan.
//
// stdout is a pipe, written synchronously on Linux: a line is out before the next step begins.
import type { Producer } from "kafkajs";
import { KafkaChangelogStore } from "../../adapters/node/changelog-store.js";
import { KafkaBroker } from "../../adapters/node/kafka-broker.js";
import { type Checkpoint, run } from "../../core/index.js";
import { eosPipeline } from "../fixtures/eos-pipeline.js";
import { soakPipeline } from "./pipelines.js";

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const brokers = env("RIVULET_BROKERS").split(",");
const group = env("RIVULET_GROUP");
const instance = process.env.RIVULET_INSTANCE ?? "0";
const kind = process.env.RIVULET_PIPELINE ?? "eos";

const die = (where: string, stage: string): never => {
  console.log(`event die ${where} ${stage}`);
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};
if (process.send) {
  process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
  process.channel?.unref();
}

const broker = new KafkaBroker({
  brokers,
  clientId: `${group}-${instance}`,
  // The same id across restarts of one member: its successor fences what it left open.
  transactionalId: `${group}-member-${instance}`,
  sessionTimeout: num("RIVULET_SESSION_TIMEOUT", 6_000),
  heartbeatInterval: num("RIVULET_HEARTBEAT_INTERVAL", 500),
  logLevel: process.env.RIVULET_KAFKA_LOG === "1" ? "error" : "nothing",
});

let dieInCommit: string | undefined;
process.on("message", (m: { die?: string; stage?: string }) => {
  if (m.die === "commit") dieInCommit = m.stage ?? "sent";
});
// The transaction's steps, reached through KafkaBroker's producer (private: this is a test's
// crash hook, not an API). A rename there fails here loudly rather than aiming nowhere.
const internals = broker as unknown as { producer(): Promise<Producer> };
if (typeof internals.producer !== "function")
  throw new Error("KafkaBroker has no producer() any more: update test/chaos/job-process.ts");
const makeProducer = internals.producer.bind(broker);
const hooked = new WeakSet<Producer>();
internals.producer = async () => {
  const p = await makeProducer();
  if (hooked.has(p)) return p;
  hooked.add(p);
  const transaction = p.transaction.bind(p);
  p.transaction = async () => {
    const tx = await transaction();
    const { sendBatch, sendOffsets, commit } = tx;
    tx.sendBatch = async (batch) => {
      const r = await sendBatch(batch);
      if (dieInCommit === "sent") die("commit", "sent");
      return r;
    };
    tx.sendOffsets = async (offsets) => {
      await sendOffsets(offsets);
      if (dieInCommit === "offsets" || dieInCommit === "sent") die("commit", dieInCommit);
    };
    tx.commit = async () => {
      if (dieInCommit !== undefined) {
        const ending = commit();
        ending.catch(() => {});
        // The EndTxn request is on its way (or queued): its outcome is the broker's to decide.
        await new Promise((r) => setImmediate(r));
        die("commit", "ending");
      }
      await commit();
    };
    return tx;
  };
  return p;
};

const events = process.env.RIVULET_EVENTS !== "0";
let commits = 0;
const commit = broker.commit.bind(broker);
broker.commit = async (tx) => {
  const n = ++commits;
  if (events) console.log(`event commit-start ${n}`);
  try {
    const result = await commit(tx);
    if (events) console.log(`event commit-end ${n} ok`);
    return result;
  } catch (e) {
    console.log(`event commit-end ${n} fail ${String(e).slice(0, 300).replaceAll("\n", " ")}`);
    throw e;
  }
};

const state = new KafkaChangelogStore({ brokers, clientId: `${group}-${instance}-state` });
let dieInRestore = process.env.RIVULET_DIE_IN_RESTORE;
let restoring = false;
const settle = state.settle.bind(state);
state.settle = async (sections) => {
  restoring = true;
  console.log("event restore-start");
  if (dieInRestore === "settle") {
    // Mid-read: the changelog consumer is joining and fetching.
    const reading = settle(sections);
    reading.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    die("restore", "settle");
  }
  await settle(sections);
  if (dieInRestore === "offsets") die("restore", "offsets");
};
const get = state.get.bind(state);
state.get = async (section, id) => {
  if (dieInRestore === "load") die("restore", "load");
  return get(section, id);
};
// A restore runs inside the poll that delivers the new assignment: it ends when that poll returns.
const consumer = broker.consumer.bind(broker);
broker.consumer = async (options) => {
  const c = await consumer(options);
  const poll = c.poll.bind(c);
  c.poll = async (o) => {
    try {
      return await poll(o);
    } finally {
      if (restoring) {
        restoring = false;
        // A restore with nothing to load ("load" never came): the next one may still.
        if (dieInRestore !== "load") dieInRestore = undefined;
        console.log("event restore-end");
      }
    }
  };
  return c;
};
let stateBytes = 0;
const records = state.records.bind(state);
state.records = (cp: Checkpoint) => {
  const out = records(cp);
  stateBytes = out.reduce((n, r) => n + (typeof r.value === "string" ? r.value.length : 0), 0);
  return out;
};

const input = env("RIVULET_INPUT");
const output = env("RIVULET_OUTPUT");
const pipeline =
  kind === "soak"
    ? soakPipeline(input, output)
    : eosPipeline(input, output, num("RIVULET_OUT_OF_ORDERNESS", 1_000));
const job = await run(pipeline, {
  broker,
  state,
  group,
  checkpointInterval: num("RIVULET_CHECKPOINT_INTERVAL", 100),
  tasks: "per-partition",
  maxBatch: num("RIVULET_MAX_BATCH", 200),
  // Long enough to ride out a broker restart (a JVM start takes seconds on 2 cores).
  retry: { retries: num("RIVULET_RETRIES", 12), initialMs: 100, maxMs: 5_000 },
});
console.log("ready");

let reported = "";
setInterval(() => {
  const m = job.metrics();
  const line = `progress ${m.records.in} ${m.checkpoints.count}`;
  if (line !== reported) console.log((reported = line));
}, 100).unref();
const statsEvery = num("RIVULET_STATS_MS", 0);
if (statsEvery > 0) {
  const keys = Array.from({ length: num("RIVULET_KEYS", 0) }, (_, i) => `k${i}`);
  const gc = (globalThis as { gc?: () => void }).gc;
  setInterval(() => {
    gc?.();
    const mem = process.memoryUsage();
    let windows = 0;
    for (const k of keys)
      for (const held of Object.values(job.query(k)))
        windows += Array.isArray(held) ? held.length : held === undefined ? 0 : 1;
    const m = job.metrics();
    console.log(
      `stats ${JSON.stringify({
        t: Date.now(),
        heapUsed: mem.heapUsed,
        rss: mem.rss,
        windows,
        stateBytes,
        in: m.records.in,
        lag: m.partitions.reduce((n, p) => n + p.lag, 0),
      })}`,
    );
  }, statsEvery).unref();
}

const shutdown = async (how: "stop" | "drain") => {
  await (how === "drain" ? job.drain() : job.stop());
  await Promise.allSettled([broker.close(), state.close()]);
  console.log(`done ${JSON.stringify(job.metrics().records)}`);
  process.exit(0);
};
if (process.env.RIVULET_DRAIN === "1") await shutdown("drain");
process.once("SIGTERM", () => void shutdown("stop"));
job.done.catch((e) => {
  console.error(`job failed: ${e instanceof Error ? e.stack : e}`);
  process.exit(1);
});
