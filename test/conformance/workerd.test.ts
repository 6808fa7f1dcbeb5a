// Conformance row 4, the edge adapter in real workerd (Miniflare 3): every case's pipeline bundled
// into a worker and run there through `RestProxyBroker` and Rivulet's REST proxy (a real process)
// on the real broker; the outputs, read back from Kafka, are the oracle's once repeats are
// dropped by `rivulet.id`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import type { JobMetrics } from "rivulet";
import { KafkaBroker } from "rivulet/node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { bundleWorker } from "../infra/bundle-worker.js";
import { readTopic, uniq } from "../kafka/kafka-helpers.js";
import { type ProxyProcess, startProxy } from "../kafka/rest-proxy-helpers.js";
import { CASES, prefixedEnv } from "./cases.js";
import { assertConforms } from "./compare.js";
import { collectRun, decodeJsonText, loadInput } from "./harness.js";
import { oracle } from "./oracle.js";

const bootstrap = inject("kafkaBootstrap");

let proxy: ProxyProcess;
let kafka: KafkaBroker;
let mf: Miniflare;
let dir: string;

beforeAll(async () => {
  proxy = await startProxy(bootstrap, ["--rate-limit", "0"]);
  kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "conformance-workerd" });
  dir = await mkdtemp(join(tmpdir(), "rivulet-conf-workerd-"));
  const script = join(dir, "worker.mjs");
  await bundleWorker("test/conformance/workerd-worker.ts", script);
  mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dir,
    compatibilityDate: "2024-09-23",
  });
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  await kafka?.close();
  await proxy?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("conformance, edge: workerd through the REST proxy (at least once)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s conforms to the oracle", async (_, c) => {
    const prefix = `${uniq(`conf-wd-${c.name}`)}.`;
    const env = prefixedEnv(prefix, Date.now() - 86_400_000);
    const expected = await oracle(c, env);
    const n = await loadInput(kafka, c, env);
    const partitions = Object.values(c.sources)[0]!;
    for (const t of c.outputs) await kafka.createTopic(env.topic(t), { partitions });
    const q = new URLSearchParams({
      case: c.name,
      prefix,
      base: String(env.base),
      expect: String(n),
      proxy: proxy.url,
    });
    const res = await mf.dispatchFetch(`http://conformance.test/run?${q}`, { method: "POST" });
    const body = (await res.json()) as JobMetrics & { error?: string };
    expect(body.error, body.error).toBeUndefined();
    expect(body.records.in).toBe(n);
    expect(body.guarantee).toBe("at-least-once");
    const logical = new Map(c.outputs.map((t) => [env.topic(t), t]));
    const got = await collectRun(c, env, async (t) =>
      (
        await readTopic(bootstrap, t, {
          min: expected.topics[logical.get(t)!]?.length ?? 0,
          timeoutMs: 8_000,
        })
      ).map((r) => ({ ...r, value: decodeJsonText(r.value) })),
    );
    assertConforms(`case "${c.name}" in workerd`, expected, got, { dropRepeats: true });
  });
});
