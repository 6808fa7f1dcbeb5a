// Conformance row 3, the edge adapter in Node: every case's pipeline run by `RestProxyBroker`
// through Rivulet's REST proxy (a real process) in front of the real broker, checkpoints with
// their offsets in a `KeyValueStateStore`, a bounded step at a time (`runFor`), as an edge
// worker runs it. Outputs are written at least once: repeats are dropped by `rivulet.id` and must
// be identical. Then again through a hop that answers 429/503, holds requests past the client's
// timeout and drops answers after the proxy acted, with the job dying before its checkpoints now
// and then: nothing lost, no window counted twice, every repeat the same record.
import { type Checkpoint, type Job, run, type StateStore } from "rivulet";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "rivulet/edge";
import { KafkaBroker } from "rivulet/node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type FaultHop, startFaultHop } from "../infra/fault-hop.js";
import { readTopic, uniq } from "../kafka/kafka-helpers.js";
import { type ProxyProcess, startProxy } from "../kafka/rest-proxy-helpers.js";
import { CASES, type CaseEnv, type ConformanceCase, prefixedEnv } from "./cases.js";
import { assertConforms } from "./compare.js";
import { type CaseRun, caseRunOptions, collectRun, decodeJsonText, loadInput } from "./harness.js";
import { oracle } from "./oracle.js";

const bootstrap = inject("kafkaBootstrap");
let proxy: ProxyProcess;
let kafka: KafkaBroker;

beforeAll(async () => {
  proxy = await startProxy(bootstrap);
  kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "conformance-edge" });
});
afterAll(async () => {
  await kafka?.close();
  await proxy?.stop();
});

/** A store that dies (as its process would) on the puts whose numbers are in `crashes`. */
function crashing(inner: StateStore, crashes: ReadonlySet<number>): StateStore & { puts: number } {
  const s = {
    puts: 0,
    put: async (cp: Checkpoint) => {
      if (crashes.has(++s.puts)) throw new Error(`crash before checkpoint ${cp.id}`);
      return inner.put(cp);
    },
    get: (section: string, id: string) => inner.get(section, id),
    latest: (section: string) => inner.latest!(section),
    retain: (section: string, id: string) => inner.retain!(section, id),
  };
  return s;
}

/** Creates the case's topics (the proxy creates none), writes its input; returns its size. */
async function prepare(c: ConformanceCase, env: CaseEnv): Promise<number> {
  const n = await loadInput(kafka, c, env);
  const partitions = Object.values(c.sources)[0]!;
  for (const t of c.outputs) await kafka.createTopic(env.topic(t), { partitions });
  return n;
}

/**
 * Runs a case through the proxy at `url` until every input record is read, a bounded step at a
 * time; a job whose checkpoint fails (a crash) is dropped and a new one takes over from the store.
 */
async function runThroughProxy(
  c: ConformanceCase,
  env: CaseEnv,
  n: number,
  url: string,
  store: StateStore,
  faulty: boolean,
): Promise<{ jobs: number; last: Job }> {
  const group = uniq(`conf-edge-${c.name}`);
  const options = {
    ...caseRunOptions(c, env),
    group,
    manual: true,
    maxBatch: 7,
    checkpointInterval: 60_000,
    retry: { retries: 30, initialMs: 5, maxMs: 100 },
  } as const;
  const proxyOptions = {
    url,
    requestTimeout: faulty ? 800 : 10_000,
    fetchTimeout: 100,
    retry: options.retry,
  };
  let jobs = 0;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const broker = new RestProxyBroker(proxyOptions);
    const job = await run(c.pipeline(env), { ...options, broker, state: store });
    jobs++;
    try {
      for (;;) {
        const { caughtUp } = await job.runFor({ maxMs: 3_000, maxRecords: 25 });
        if (caughtUp || Date.now() > deadline) break;
      }
      await job.drain();
      await broker.close();
      return { jobs, last: job };
    } catch (e) {
      await broker.close();
      if (!String(e).includes("crash before checkpoint") || Date.now() > deadline) throw e;
    }
    expect(n).toBeGreaterThan(0);
  }
}

async function read(
  c: ConformanceCase,
  env: CaseEnv,
  expected: CaseRun,
  last: Job | undefined,
): Promise<CaseRun> {
  const logical = new Map(c.outputs.map((t) => [env.topic(t), t]));
  return collectRun(
    c,
    env,
    async (t) =>
      (
        await readTopic(bootstrap, t, {
          min: expected.topics[logical.get(t)!]?.length ?? 0,
          timeoutMs: 8_000,
        })
      ).map((r) => ({
        ...r,
        value: decodeJsonText(r.value),
      })),
    last?.metrics().records,
  );
}

describe("conformance, edge: Node through the REST proxy (at least once, state in a key-value store)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s conforms to the oracle", async (_, c) => {
    const env = prefixedEnv(`${uniq(`conf-edge-${c.name}`)}.`, Date.now() - 86_400_000);
    const expected = await oracle(c, env);
    const n = await prepare(c, env);
    const { last } = await runThroughProxy(
      c,
      env,
      n,
      proxy.url,
      new KeyValueStateStore(memoryStorage()),
      false,
    );
    expect(last.metrics()).toMatchObject({ guarantee: "at-least-once", protocol: "store-owned" });
    assertConforms(
      `case "${c.name}" through the REST proxy`,
      expected,
      await read(c, env, expected, undefined),
      {
        dropRepeats: true,
      },
    );
    // One job read everything: the same accounting, except that which record of a join pair
    // came second (emitted) and which first (aggregated) depends on how the two topics'
    // fetches interleave, as it does between polls of two Kafka topics.
    const got = last.metrics().records;
    const want = expected.counts!;
    expect({ ...got, emitted: 0, aggregated: got.emitted + got.aggregated }).toEqual({
      ...want,
      emitted: 0,
      aggregated: want.emitted + want.aggregated,
    });
  });

  describe("through faults: 429, 503, timeouts, answers lost after the proxy acted, crashes before checkpoints", () => {
    let hop: FaultHop;
    beforeAll(async () => {
      hop = await startFaultHop(proxy.url, {
        rate: 0.2,
        faults: ["429", "503", "timeout", "drop"],
        seed: 7,
        holdMs: 2_000,
      });
    });
    afterAll(async () => {
      console.log(`[conformance] edge faults injected: ${JSON.stringify(hop.stats)}`);
      await hop.close();
    });

    it.each(CASES.map((c, i) => [c.name, c, i] as const))("%s conforms to the oracle", async (_, c, i) => {
      const env = prefixedEnv(`${uniq(`conf-edgef-${c.name}`)}.`, Date.now() - 86_400_000);
      const expected = await oracle(c, env);
      const n = await prepare(c, env);
      const store = crashing(new KeyValueStateStore(memoryStorage()), new Set([1 + (i % 2), 3 + (i % 2)]));
      const { jobs } = await runThroughProxy(c, env, n, hop.url, store, true);
      expect(jobs).toBeGreaterThan(1); // it did die, and a new job took over
      // Counts are left out: each job counts what it did, and replays count twice.
      assertConforms(
        `case "${c.name}" through a faulty hop`,
        expected,
        await read(c, env, expected, undefined),
        {
          dropRepeats: true,
        },
      );
    });
  });
});
