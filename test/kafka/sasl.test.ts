// SASL/SCRAM and TLS to Kafka from the CLI, against a real broker of its own (secure-kafka.ts:
// a SASL_PLAINTEXT listener with SCRAM-SHA-256/512, an SSL listener requiring client
// certificates, and a PLAINTEXT one the test itself sets up and checks through). `rivulet run`
// and `rivulet proxy` run as users run them: bin/rivulet.mjs in child processes, stopped by the
// pid this file spawned, never by name; the broker too.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { call, JSON_V2, startProxy, V2 } from "./rest-proxy-helpers.js";
import { type SecureKafka, startSecureKafka } from "./secure-kafka.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "rivulet.mjs");
const fixture = "test/fixtures/clicks-pipeline.ts";
const ALICE = { name: "alice", password: "alice-Pa55-word" };

let kafka: SecureKafka;
let admin: ReturnType<Kafka["admin"]>;
let client: Kafka;
let scratch: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "rivulet-sasl-"));
  kafka = await startSecureKafka([ALICE]);
  client = new Kafka({
    clientId: "rivulet-sasl-test",
    brokers: [kafka.plaintext],
    logLevel: logLevel.NOTHING,
  });
  admin = client.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: "clicks", numPartitions: 3 },
      { topic: "proxied", numPartitions: 2 },
    ],
  });
  // Three users' clicks in minute 0 (one view, filtered out) and one in minute 2.
  const click = (userId: string, ts: number, kind = "click") => ({
    key: userId,
    value: JSON.stringify({ userId, kind, ts }),
  });
  const producer = client.producer();
  await producer.connect();
  await producer.send({
    topic: "clicks",
    messages: [
      ...[0, 1_000, 2_000].map((ts) => click("ann", ts)),
      ...[500, 1_500].map((ts) => click("bob", ts)),
      click("cyd", 3_000),
      click("cyd", 4_000, "view"),
      click("ann", 130_000),
    ],
  });
  await producer.disconnect();
  await writeFile(join(scratch, "alice.password"), `${ALICE.password}\n`);
  await writeFile(join(scratch, "wrong.password"), "not-her-password\n");
}, 120_000);

afterEach(async () => {
  for (const child of children) {
    child.kill("SIGKILL"); // by the pid spawned below
    await new Promise((r) => child.once("exit", r));
  }
});

afterAll(async () => {
  await admin?.disconnect().catch(() => {});
  await kafka?.stop(); // the broker's pid, as started
  await rm(scratch, { recursive: true, force: true });
});

/** `rivulet ...` in a child process; resolves when it exits. */
function rivulet(args: string[], env: Record<string, string> = {}) {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, RIVULET_SASL_PASSWORD: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  child.stdout!.resume();
  return new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve({ code, stderr: err, ms: Date.now() - started });
    }),
  );
}

/** Every committed record of `topic`, read over the PLAINTEXT listener once `n` are there. */
async function readCommitted(topic: string, n: number): Promise<unknown[]> {
  const consumer = client.consumer({ groupId: `sasl-reader-${Date.now()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const rows: { key: string; start: number; value: number }[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        rows.push(JSON.parse(message.value!.toString()));
        if (rows.length === n) {
          clearTimeout(timer);
          setTimeout(resolve, 1_000); // duplicates, if any, would show up now
        }
      },
    });
  });
  await consumer.disconnect();
  return rows.sort((a, b) => a.start - b.start || a.key.localeCompare(b.key));
}

const EXPECTED = [
  { key: "ann", start: 0, end: 60_000, value: 3 },
  { key: "bob", start: 0, end: 60_000, value: 2 },
  { key: "cyd", start: 0, end: 60_000, value: 1 },
  { key: "ann", start: 120_000, end: 180_000, value: 1 },
];

describe("SASL/SCRAM", () => {
  it("rivulet run --sasl-mechanism scram-sha-256, the password in RIVULET_SASL_PASSWORD: drains, outputs exact, state in a changelog topic", async () => {
    const run = await rivulet(
      [
        "run",
        fixture,
        "perMinute",
        "--brokers",
        kafka.sasl,
        "--group",
        "sasl-clicks",
        "--state",
        "kafka",
        "--sasl-mechanism",
        "scram-sha-256",
        "--sasl-username",
        "alice",
        "--drain",
      ],
      { RIVULET_SASL_PASSWORD: ALICE.password },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /on 127\.0\.0\.1:\d+ with SASL scram-sha-256 as alice \(exactly-once; state: changelog/,
    );
    expect(run.stderr).toMatch(/drained\. 8 in = 0 emitted \+ 1 filtered \+ 7 aggregated/);
    expect(run.stderr).not.toContain(ALICE.password);
    expect(await readCommitted("clicks-per-minute", EXPECTED.length)).toEqual(EXPECTED);
    // The changelog store's clients went through SASL too: they made its topic.
    expect(await admin.listTopics()).toContain("sasl-clicks-changelog");
    const committed = await admin.fetchOffsets({ groupId: "sasl-clicks", topics: ["clicks"] });
    expect(committed[0]!.partitions.reduce((s, p) => s + Number(p.offset), 0)).toBe(8);
  });

  it("a wrong password: a SASL authentication error, exit 1, at once", async () => {
    const run = await rivulet([
      "run",
      fixture,
      "--brokers",
      kafka.sasl,
      "--group",
      "sasl-wrong",
      "--sasl-mechanism",
      "scram-sha-256",
      "--sasl-username",
      "alice",
      "--sasl-password-file",
      join(scratch, "wrong.password"),
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/SASL SCRAM SHA256 authentication failed/);
    expect(run.stderr).toMatch(/invalid credentials/);
    expect(run.ms).toBeLessThan(20_000);
    // No SASL at all on the SASL listener: not a hang either.
    const none = await rivulet(["run", fixture, "--brokers", kafka.sasl, "--group", "sasl-none"]);
    expect(none.code, none.stderr).toBe(1);
  });

  it("rivulet proxy with scram-sha-512 and --sasl-password-file produces and fetches; a wrong password fails its start", async () => {
    const proxy = await startProxy(kafka.sasl, [
      "--sasl-mechanism",
      "scram-sha-512",
      "--sasl-username",
      "alice",
      "--sasl-password-file",
      join(scratch, "alice.password"),
    ]);
    try {
      expect(proxy.stderr()).toMatch(/for Kafka at 127\.0\.0\.1:\d+ \(SASL scram-sha-512 as alice\)/);
      const produced = await call(proxy.url, "POST", "/topics/proxied", {
        contentType: JSON_V2,
        body: { records: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: { i } })) },
      });
      expect(produced.status, produced.text).toBe(200);
      expect(produced.body.offsets).toHaveLength(4);

      const made = await call(proxy.url, "POST", "/consumers/sasl-proxy", {
        body: { format: "json", "auto.offset.reset": "earliest" },
      });
      expect(made.status, made.text).toBe(200);
      const path = `/consumers/sasl-proxy/instances/${made.body.instance_id}`;
      const sub = await call(proxy.url, "POST", `${path}/subscription`, { body: { topics: ["proxied"] } });
      expect(sub.status, sub.text).toBe(204);
      const got: { key: string; value: { i: number } }[] = [];
      for (const deadline = Date.now() + 20_000; got.length < 4 && Date.now() < deadline; ) {
        const r = await call(proxy.url, "GET", `${path}/records?timeout=1000`, { accept: JSON_V2 });
        expect(r.status, r.text).toBe(200);
        got.push(...r.body);
      }
      expect(got.map((r) => [r.key, r.value.i]).sort()).toEqual([
        ["k0", 0],
        ["k1", 1],
        ["k2", 2],
        ["k3", 3],
      ]);
      expect((await call(proxy.url, "DELETE", path, { accept: V2 })).status).toBe(204);
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
    // The records are in Kafka, as seen over the PLAINTEXT listener.
    const ends = await admin.fetchTopicOffsets("proxied");
    expect(ends.reduce((s, p) => s + Number(p.high), 0)).toBe(4);

    await expect(
      startProxy(kafka.sasl, [
        "--sasl-mechanism",
        "scram-sha-512",
        "--sasl-username",
        "alice",
        "--sasl-password-file",
        join(scratch, "wrong.password"),
      ]),
    ).rejects.toThrow(/exited \(1\)[\s\S]*SASL SCRAM SHA512 authentication failed/);
  });
});

describe("TLS (a fresh CA made with openssl)", () => {
  it("rivulet run --tls-ca --tls-cert --tls-key on a listener requiring client certificates: drains, outputs exact", async () => {
    // The secure broker has its TLS listener only when openssl could make its certificates.
    expect(
      kafka.tlsDir,
      "the TLS test needs openssl on the PATH (e.g. apt-get install openssl)",
    ).toBeDefined();
    // The fixture's pipeline, written to a topic of its own.
    const module = join(scratch, "tls-pipeline.mts");
    await writeFile(
      module,
      `import { count, Pipeline, tumbling } from "rivulet";
export default Pipeline.source<{ userId: string; kind: string; ts: number }>("clicks", {
  timestamp: (c) => c.ts,
  watermark: { maxOutOfOrderness: 5_000 },
})
  .filter((c) => c.kind === "click")
  .keyBy((c) => c.userId)
  .window(tumbling(60_000))
  .aggregate(count())
  .to("tls-per-minute");
`,
    );
    const dir = kafka.tlsDir!;
    const run = await rivulet([
      "run",
      module,
      "--brokers",
      kafka.mtls!,
      "--group",
      "tls-clicks",
      "--tls-ca",
      join(dir, "ca.pem"),
      "--tls-cert",
      join(dir, "client.pem"),
      "--tls-key",
      join(dir, "client.key"),
      "--drain",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/with TLS \(CA .*ca\.pem, client certificate .*client\.pem\) \(exactly-once/);
    expect(run.stderr).toMatch(/drained\. 8 in = 0 emitted \+ 1 filtered \+ 7 aggregated/);
    expect(await readCommitted("tls-per-minute", EXPECTED.length)).toEqual(EXPECTED);
  });

  it("certificate problems are one clear line at once, exit 1: an untrusted broker, a refused client, no TLS listener", async () => {
    const dir = kafka.tlsDir!;
    const untrusted = await rivulet(["run", fixture, "--brokers", kafka.mtls!, "--group", "tls-x", "--tls"]);
    expect(untrusted.code, untrusted.stderr).toBe(1);
    expect(untrusted.stderr).toMatch(
      /TLS to 127\.0\.0\.1:\d+ failed: the broker's certificate is not trusted \(unable to verify the first certificate\); --tls-ca names the CA/,
    );
    const noCert = await rivulet([
      ...["run", fixture, "--brokers", kafka.mtls!, "--group", "tls-x"],
      ...["--tls-ca", join(dir, "ca.pem")],
    ]);
    expect(noCert.code, noCert.stderr).toBe(1);
    expect(noCert.stderr).toMatch(
      /the broker refused the client certificate \(.*alert.*\); it wants one it trusts/,
    );
    const plain = await rivulet(["run", fixture, "--brokers", kafka.plaintext, "--group", "tls-x", "--tls"]);
    expect(plain.code, plain.stderr).toBe(1);
    expect(plain.stderr).toMatch(/TLS to 127\.0\.0\.1:\d+ failed: .*\(is it a TLS listener\?\)/);
    for (const r of [untrusted, noCert, plain]) expect(r.ms).toBeLessThan(8_000);
  });

  it("rivulet proxy with --tls-ca --tls-cert --tls-key serves the secured cluster", async () => {
    const dir = kafka.tlsDir!;
    const proxy = await startProxy(kafka.mtls!, [
      ...["--tls-ca", join(dir, "ca.pem"), "--tls-cert", join(dir, "client.pem")],
      ...["--tls-key", join(dir, "client.key")],
    ]);
    try {
      const topics = await call(proxy.url, "GET", "/topics", { accept: V2 });
      expect(topics.status, topics.text).toBe(200);
      expect(topics.body).toEqual(expect.arrayContaining(["clicks", "proxied"]));
      const produced = await call(proxy.url, "POST", "/topics/proxied", {
        contentType: JSON_V2,
        body: { records: [{ key: "tls", value: { over: "mtls" } }] },
      });
      expect(produced.status, produced.text).toBe(200);
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });
});
