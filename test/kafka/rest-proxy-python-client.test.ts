// Rivulet's REST proxy read by a v2 client that shares nothing with it: kafka-mcp's (PyPI)
// consumer-instance helpers (create, subscribe, records, the empty-body commit, delete), in the
// json and binary embedded formats, against a real `rivulet proxy` process and the real broker.
// The client is installed into .cache/python-v2-client on first use (a venv with its one HTTP
// dependency, and its wheel unpacked); its produce speaks v3 only, so produce is KafkaJS's here.
// The other v2 clients on the registries speak v1 (npm kafka-rest, PyPI kafka-rest and
// kafka-rest-client).
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { committedOffsets, uniq } from "./kafka-helpers.js";
import { type ProxyProcess, startProxy } from "./rest-proxy-helpers.js";

const root = join(import.meta.dirname, "..", "..");
const home = join(root, ".cache", "python-v2-client");
const python = join(home, "venv", "bin", "python");
const CLIENT = "kafka-mcp==2.4.4";
const bootstrap = inject("kafkaBootstrap");
let proxy: ProxyProcess;

/** The client, installed once: a venv with httpx, kafka-mcp's wheel unpacked beside it. */
function install(): void {
  if (existsSync(join(home, "ready"))) return;
  mkdirSync(home, { recursive: true });
  const run = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(
        `installing the independent v2 client (${CLIENT}) failed at: ${cmd} ${args.join(" ")}\n` +
          `${err.stderr?.toString() ?? err.message}\nIt needs python3 with venv and pip, and PyPI.`,
      );
    }
  };
  run("python3", ["-m", "venv", join(home, "venv")]);
  run(join(home, "venv", "bin", "pip"), ["install", "-q", "--disable-pip-version-check", "httpx==0.28.1"]);
  // Its metadata asks for Python 3.12 (the MCP server's SDK); the v2 helpers run on 3.11 too.
  run(join(home, "venv", "bin", "pip"), [
    "download",
    "-q",
    "--disable-pip-version-check",
    "--no-deps",
    "--python-version",
    "3.13",
    "--only-binary=:all:",
    "-d",
    home,
    CLIENT,
  ]);
  const wheel = readdirSync(home).find((f) => f.startsWith("kafka_mcp-") && f.endsWith(".whl"));
  if (!wheel) throw new Error(`${CLIENT}: no wheel downloaded into ${home}`);
  run(python, ["-m", "zipfile", "-e", join(home, wheel), join(home, "kafka-mcp")]);
  writeFileSync(join(home, "ready"), `${CLIENT}\n`);
}

interface Read {
  records: { topic: string; key: unknown; value: unknown; partition: number; offset: number }[];
  instance: { instance_id: string; base_uri: string };
}

async function readWithClient(
  group: string,
  topic: string,
  format: "json" | "binary",
  n: number,
): Promise<Read> {
  const { stdout } = await promisify(execFile)(
    python,
    [
      join(import.meta.dirname, "v2-client", "driver.py"),
      join(home, "kafka-mcp"),
      proxy.url,
      group,
      topic,
      format,
      String(n),
    ],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout) as Read;
}

beforeAll(async () => {
  install();
  proxy = await startProxy(bootstrap, ["--rate-limit", "0"]);
}, 240_000);

afterAll(async () => {
  expect(await proxy?.stop()).toBe(0);
});

describe("an independent v2 client (kafka-mcp, PyPI) reads through Rivulet's proxy", () => {
  const written = Array.from({ length: 40 }, (_, i) => ({
    key: `user-${i % 5}`,
    value: { n: i, text: `événement ${i}` },
    partition: i % 2,
  }));

  async function topicWithRecords(): Promise<string> {
    const topic = uniq("v2-client");
    const kafka = new Kafka({ brokers: [bootstrap], clientId: "v2-client-test", logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    // Keys and values as JSON text: the json embedded format reads both as JSON.
    await producer.send({
      topic,
      acks: -1,
      messages: written.map((w) => ({
        key: JSON.stringify(w.key),
        value: JSON.stringify(w.value),
        partition: w.partition,
      })),
    });
    await producer.disconnect();
    return topic;
  }

  const committed = (group: string, topic: string) => committedOffsets(bootstrap, group, topic);

  const expected = (decode: (r: Read["records"][number]) => { key: unknown; value: unknown }, read: Read) =>
    read.records
      .map((r) => ({ ...decode(r), partition: r.partition, offset: r.offset }))
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const want = [0, 1].flatMap((p) =>
    written
      .filter((w) => w.partition === p)
      .map((w, offset) => ({ key: w.key, value: w.value, partition: p, offset })),
  );

  it("json: every record once, keys and values as JSON; its empty-body commit commits what it fetched; delete ends the instance", async () => {
    const topic = await topicWithRecords();
    const group = uniq("v2-client-json");
    const read = await readWithClient(group, topic, "json", written.length);
    expect(read.instance.base_uri).toBe(
      `${proxy.url}/consumers/${group}/instances/${read.instance.instance_id}`,
    );
    expect(expected((r) => ({ key: r.key, value: r.value }), read)).toEqual(want);
    expect(await committed(group, topic)).toEqual([20, 20]);
    const gone = await fetch(`${read.instance.base_uri}/subscription`, {
      headers: { accept: "application/vnd.kafka.v2+json" },
    });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error_code: number }).error_code).toBe(40403);
  });

  it("binary: keys and values base64, the same records", async () => {
    const topic = await topicWithRecords();
    const group = uniq("v2-client-binary");
    const read = await readWithClient(group, topic, "binary", written.length);
    const text = (b: unknown) => JSON.parse(Buffer.from(b as string, "base64").toString("utf8"));
    expect(expected((r) => ({ key: text(r.key), value: text(r.value) }), read)).toEqual(want);
    expect(await committed(group, topic)).toEqual([20, 20]);
  });
});
