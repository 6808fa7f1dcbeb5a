// REST proxy faults (edge): the stateful windowed pipeline run as an edge worker runs it
// (RestProxyBroker, checkpoints with their offsets in a key-value store, a bounded piece of work
// per call) through Rivulet's REST proxy on the shared broker. Between the job and the proxy, a
// hop (test/infra/fault-hop.ts) answers 429 or 503 itself, holds requests past the client's
// timeout, and drops connections after the proxy acted, on a share of the calls; the proxy
// process is crashed (SIGKILL) and stopped (SIGTERM) mid-run and started again on its port. A job
// whose retries run out is replaced by a new one on the same store, as the worker's next
// invocation would be. The promise is at least once with identical repeats: nothing lost,
// nothing that should not exist, and every repeat of a record carries the same `rivulet.id`.
import { Kafka, logLevel } from "kafkajs";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "../../adapters/edge/index.js";
import { type Checkpoint, type Job, run, type StateStore } from "../../core/index.js";
import { eosPipeline } from "../fixtures/eos-pipeline.js";
import { startFaultHop } from "../infra/fault-hop.js";
import { readTopic, uniq } from "../kafka/kafka-helpers.js";
import { appendEvents, eosEvents, expectedOutput, produceEvents } from "../kafka/workers.js";
import {
  countAgainst,
  result,
  type ScenarioContext,
  type ScenarioResult,
  sampleDifferences,
  sleep,
} from "./common.js";
import { startRestartableProxy } from "./proxy-process.js";

const PARTITIONS = 3;
const OUT_OF_ORDERNESS = 1_000;

export async function edgeProxyFaults(ctx: ScenarioContext): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const seed = Number(process.env.RIVULET_CHAOS_SEED ?? Date.now() % 100_000);
  const n = ctx.quick ? 20_000 : 200_000;
  const events = eosEvents(n);
  const input = uniq("chaos-edge-in");
  const output = uniq("chaos-edge-out");
  const dlq = uniq("chaos-edge-dlq");
  const group = uniq("chaos-edge");
  const kafka = new Kafka({
    brokers: [ctx.bootstrap],
    clientId: "rivulet-chaos-edge",
    logLevel: logLevel.NOTHING,
  });
  // A REST proxy creates no topics: they are made on the cluster first.
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [output, dlq].map((topic) => ({ topic, numPartitions: PARTITIONS })),
  });
  await admin.disconnect();
  const half = Math.floor(n / 2);
  await produceEvents(kafka, input, events.slice(0, half), PARTITIONS);

  const proxy = await startRestartableProxy(ctx.bootstrap, ["--rate-limit", "0", "--log-level", "nothing"]);
  const hop = await startFaultHop(proxy.url, {
    rate: 0.12,
    faults: ["429", "503", "timeout", "drop"],
    seed,
    holdMs: 1_500,
  });
  // The store of a worker's state; `evict` makes its next put fail, as an isolate evicted
  // between writing its outputs and storing its checkpoint: the next job replays those outputs.
  const kv = new KeyValueStateStore(memoryStorage());
  let evict = false;
  const store: StateStore = {
    put: async (cp: Checkpoint) => {
      if (evict) {
        evict = false;
        throw new Error("evicted before its checkpoint");
      }
      return kv.put(cp);
    },
    get: (section, id) => kv.get(section, id),
    latest: (section) => kv.latest(section),
    retain: (section, id) => kv.retain(section, id),
  };
  const faults = { proxyCrash: 0, proxyRestart: 0, evicted: 0 } as Record<string, number> & {
    proxyCrash: number;
    proxyRestart: number;
    evicted: number;
  };
  const problems: string[] = [];
  let jobs = 0;
  const failures: string[] = [];
  const retry = { retries: 20, initialMs: 50, maxMs: 1_000 };
  const newJob = async (): Promise<{ job: Job; broker: RestProxyBroker }> => {
    const broker = new RestProxyBroker({ url: hop.url, requestTimeout: 1_000, fetchTimeout: 200, retry });
    const job = await run(eosPipeline(input, output, OUT_OF_ORDERNESS), {
      broker,
      state: store,
      group,
      deadLetterTopic: dlq,
      tasks: "per-partition",
      manual: true,
      maxBatch: 500,
      retry,
    });
    jobs++;
    return { job, broker };
  };

  let current: { job: Job; broker: RestProxyBroker } | undefined;
  let fed = half;
  let caughtUp = false;
  let working = true;
  /** The worker: a bounded piece of work per call; a failed job is replaced on the same store. */
  const worker = (async () => {
    while (working) {
      try {
        current ??= await newJob();
        const r = await current.job.runFor({ maxMs: 2_000 });
        caughtUp = r.caughtUp && fed === n;
      } catch (e) {
        failures.push(String(e).slice(0, 300));
        await current?.broker.close().catch(() => {});
        current = undefined;
        await sleep(200);
      }
    }
  })();
  const until = async (what: string, check: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await sleep(100);
    }
  };
  const readSoFar = () => current?.job.metrics().partitions.reduce((s, p) => s + (p.offset ?? 0), 0) ?? 0;

  const evicted = async () => {
    const jobsBefore = jobs;
    evict = true;
    await until("the evicted job is replaced", () => jobs > jobsBefore, 60_000);
    faults.evicted++;
    ctx.log(`edge-proxy: a job evicted before its checkpoint, replaced; ${readSoFar()} records read`);
  };
  const phases: Record<string, number> = {};
  try {
    await until("the edge job reads", () => readSoFar() > half / 4, 120_000);
    await evicted();
    // A crashed proxy's consumers stay in their groups until their session times out (30 s):
    // the new instances get their partitions only then. The quick run restarts it cleanly.
    let t = Date.now();
    if (!ctx.quick) {
      await proxy.restart("SIGKILL", 2_000);
      faults.proxyCrash++;
      await until("the edge job reads again", () => readSoFar() > half / 2, 180_000);
      phases.readingAgainAfterCrash = (Date.now() - t) / 1_000;
      ctx.log(
        `edge-proxy: the proxy crashed (SIGKILL) and came back; reading again after ${phases.readingAgainAfterCrash} s`,
      );
    }
    const threeQuarters = Math.floor((n * 3) / 4);
    await appendEvents(kafka, input, events.slice(half, threeQuarters));
    await until("the edge job reads more", () => readSoFar() > half + (threeQuarters - half) / 2, 180_000);
    t = Date.now();
    const before = readSoFar();
    const stopped = await proxy.restart("SIGTERM", 1_000);
    phases.cleanStopSeconds = stopped.stopSeconds;
    if (stopped.forced) problems.push(`the proxy did not stop within 15 s of its SIGTERM`);
    faults.proxyRestart++;
    await appendEvents(kafka, input, events.slice(threeQuarters));
    fed = n;
    await until("the edge job reads again", () => readSoFar() > Math.max(before, threeQuarters), 180_000);
    phases.readingAgainAfterRestart = (Date.now() - t) / 1_000;
    ctx.log(
      `edge-proxy: the proxy restarted (SIGTERM); reading again after ${phases.readingAgainAfterRestart} s`,
    );
    if (!ctx.quick) await evicted();
    caughtUp = false;
    await until("the edge job has read everything", () => caughtUp, 300_000);
    working = false;
    await worker;
    // The end of the bounded input, with the faults still on: the windows still open fire.
    for (;;) {
      try {
        current ??= await newJob();
        await current.job.drain();
        break;
      } catch (e) {
        failures.push(String(e).slice(0, 300));
        await current?.broker.close().catch(() => {});
        current = undefined;
      }
    }
    await current.broker.close();
    Object.assign(faults, {
      "429": hop.stats["429"],
      "503": hop.stats["503"],
      timeout: hop.stats.timeout,
      dropped: hop.stats.drop,
    });

    const expected = await expectedOutput(events, PARTITIONS, OUT_OF_ORDERNESS, "per-partition");
    const records = await readTopic(ctx.bootstrap, output, { min: expected.length, timeoutMs: 60_000 });
    const got = records.map((r) => `${r.key} ${r.value}`);
    const counted = countAgainst(expected, got);
    if (counted.lost || counted.unexpected) problems.push(...sampleDifferences(expected, got));
    // Identical repeats: one id per record, one record per id (key, value, partition, timestamp).
    const byId = new Map<string, string>();
    const idsOf = new Map<string, Set<string>>();
    let noId = 0;
    let differing = 0;
    for (const r of records) {
      const id = r.headers["rivulet.id"];
      const whole = `${r.partition} ${r.timestamp} ${r.key} ${r.value}`;
      if (id === undefined) {
        noId++;
        continue;
      }
      const seen = byId.get(id);
      if (seen === undefined) byId.set(id, whole);
      else if (seen !== whole) differing++;
      const content = `${r.key} ${r.value}`;
      const ids = idsOf.get(content) ?? new Set<string>();
      ids.add(id);
      idsOf.set(content, ids);
    }
    const repeatedUnderOtherIds = [...idsOf.values()].filter((s) => s.size > 1).length;
    if (noId > 0) problems.push(`${noId} output records without a rivulet.id header`);
    if (differing > 0) problems.push(`${differing} repeats differ from the first record of their id`);
    if (repeatedUnderOtherIds > 0)
      problems.push(`${repeatedUnderOtherIds} records repeated under another rivulet.id`);
    if (counted.duplicated === 0) problems.push("no repeat at all: the faults did not reach the writes");
    if (faults.evicted === 0) problems.push("no job was evicted");
    return result({
      scenario: "edge-proxy",
      runtime: "edge-rest-proxy",
      guarantee: "at-least-once",
      in: n,
      counted,
      faults,
      startedAt,
      problems,
      details: {
        seed,
        partitions: PARTITIONS,
        faultRate: 0.12,
        callsForwarded: hop.stats.forwarded,
        jobs,
        jobFailures: failures.slice(0, 5),
        phaseSeconds: phases,
        distinctIds: byId.size,
        repeatsIdentical: differing === 0 && repeatedUnderOtherIds === 0,
      },
    });
  } finally {
    working = false;
    await worker.catch(() => {});
    await current?.broker.close().catch(() => {});
    await hop.close();
    await proxy.stop();
  }
}
