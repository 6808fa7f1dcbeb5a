// Rivulet's REST proxy as a user runs it (`rivulet proxy`, a real process) against the suite's
// real broker: produce and metadata, request by request against Confluent's v2 reference
// (shapes, status codes, error codes), checked in Kafka with a KafkaJS reader of its own.
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KafkaBroker } from "../../adapters/node/index.js";
import { partitionForKey } from "../../core/index.js";
import { readTopic, uniq } from "./kafka-helpers.js";
import {
  BINARY,
  b64,
  call,
  createTopics,
  JSON_V2,
  type ProxyProcess,
  startProxy,
  topicExists,
  V2,
} from "./rest-proxy-helpers.js";

const bootstrap = inject("kafkaBootstrap");
let proxy: ProxyProcess;
let url: string;
const topic = uniq("rp-produce");
const placed = uniq("rp-placed");
const byBroker = uniq("rp-placed-kb");
const small = uniq("rp-small");

beforeAll(async () => {
  await createTopics(bootstrap, [
    { topic, partitions: 3 },
    { topic: placed, partitions: 6 },
    { topic: byBroker, partitions: 6 },
  ]);
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: small, numPartitions: 1, configEntries: [{ name: "max.message.bytes", value: "2000" }] },
    ],
  });
  await admin.disconnect();
  proxy = await startProxy(bootstrap);
  url = proxy.url;
});

afterAll(async () => {
  expect(await proxy?.stop()).toBe(0);
});

/** End offsets of a topic, to show a refused request wrote nothing. */
async function ends(t: string): Promise<number[]> {
  const res = await call(url, "GET", `/topics/${t}/partitions`);
  const out: number[] = [];
  for (const p of res.body as { partition: number }[])
    out.push((await call(url, "GET", `/topics/${t}/partitions/${p.partition}/offsets`)).body.end_offset);
  return out;
}

describe("produce (POST /topics/{topic})", () => {
  it("binary: keys and values base64, offsets per record in request order, v2's response shape", async () => {
    const res = await call(url, "POST", `/topics/${topic}`, {
      contentType: BINARY,
      accept: V2,
      body: {
        records: [
          { key: b64("k1"), value: b64("v1") },
          { value: b64("v2"), partition: 1 },
          { key: b64("k1"), value: b64("v3") },
          { key: null, value: null, partition: 2 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(V2);
    expect(res.body.key_schema_id).toBeNull();
    expect(res.body.value_schema_id).toBeNull();
    const offsets = res.body.offsets as {
      partition: number;
      offset: number;
      error_code: null;
      error: null;
    }[];
    expect(offsets).toHaveLength(4);
    for (const o of offsets) expect(o).toMatchObject({ error_code: null, error: null });
    expect(offsets[1]!.partition).toBe(1);
    expect(offsets[3]!.partition).toBe(2);
    // The same key, the same partition, the next offset.
    expect(offsets[2]!.partition).toBe(offsets[0]!.partition);
    expect(offsets[2]!.offset).toBe(offsets[0]!.offset + 1);
    expect(offsets[0]!.partition).toBe(partitionForKey("k1", 3));

    const read = await readTopic(bootstrap, topic, { min: 4 });
    const at = (p: number, o: number) => read.find((r) => r.partition === p && r.offset === o);
    expect(at(offsets[0]!.partition, offsets[0]!.offset)).toMatchObject({ key: "k1", value: "v1" });
    expect(at(1, offsets[1]!.offset)).toMatchObject({ key: null, value: "v2" });
    expect(at(2, offsets[3]!.offset)).toMatchObject({ key: null, value: null });
  });

  it("headers and timestamp (Rivulet's extensions) reach Kafka: rivulet.id travels", async () => {
    const res = await call(url, "POST", `/topics/${topic}/partitions/0`, {
      contentType: BINARY,
      body: {
        records: [
          {
            key: b64("h"),
            value: b64("with headers"),
            timestamp: 1_700_000_000_123,
            headers: [
              { name: "rivulet.id", value: b64("job-1/0/42") },
              { name: "empty", value: b64("") },
            ],
          },
        ],
      },
    });
    expect(res.status).toBe(200);
    const { offset } = res.body.offsets[0];
    const read = await readTopic(bootstrap, topic, { min: 5 });
    const r = read.find((x) => x.partition === 0 && x.offset === offset)!;
    expect(r.timestamp).toBe(1_700_000_000_123);
    expect(r.headers).toEqual({ "rivulet.id": "job-1/0/42", empty: "" });
  });

  it("json: values and keys are JSON documents, held as their JSON text (Confluent's json format)", async () => {
    const res = await call(url, "POST", `/topics/${topic}`, {
      contentType: JSON_V2,
      body: {
        records: [
          { key: "somekey", value: { foo: "bar" }, partition: 2 },
          { value: ["foo", "bar"], partition: 2 },
          { value: 53.5, partition: 2, headers: [{ name: "h", value: "plain text" }] },
        ],
      },
    });
    expect(res.status).toBe(200);
    const [a, b, c] = res.body.offsets as { partition: number; offset: number }[];
    expect([a!.partition, b!.partition, c!.partition]).toEqual([2, 2, 2]);
    expect([b!.offset - a!.offset, c!.offset - a!.offset]).toEqual([1, 2]);
    const read = await readTopic(bootstrap, topic, { min: 8 });
    const at = (o: number) => read.find((r) => r.partition === 2 && r.offset === o)!;
    expect(at(a!.offset)).toMatchObject({ key: '"somekey"', value: '{"foo":"bar"}' });
    expect(at(b!.offset).value).toBe('["foo","bar"]');
    expect(at(c!.offset)).toMatchObject({ value: "53.5", headers: { h: "plain text" } });
  });

  it("keys land where KafkaBroker (and Java's murmur2) puts them; records without a key spread out", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const res = await call(url, "POST", `/topics/${placed}`, {
      contentType: BINARY,
      body: { records: keys.map((k) => ({ key: b64(k), value: b64(k) })) },
    });
    expect(res.status).toBe(200);
    const broker = new KafkaBroker({ brokers: [bootstrap], guarantee: "at-least-once", logLevel: "nothing" });
    try {
      await broker.commit({ records: keys.map((k) => ({ topic: byBroker, key: k, value: k })) });
    } finally {
      await broker.close();
    }
    const viaProxy = new Map(
      (await readTopic(bootstrap, placed, { min: 40 })).map((r) => [r.key, r.partition]),
    );
    const viaBroker = new Map(
      (await readTopic(bootstrap, byBroker, { min: 40 })).map((r) => [r.key, r.partition]),
    );
    for (const k of keys) {
      expect(viaProxy.get(k), k).toBe(viaBroker.get(k));
      expect(viaProxy.get(k), k).toBe(partitionForKey(k, 6));
    }
    expect(new Set(viaProxy.values()).size).toBeGreaterThan(1);

    const unkeyed = await call(url, "POST", `/topics/${placed}`, {
      contentType: BINARY,
      body: { records: Array.from({ length: 12 }, (_, i) => ({ value: b64(`n${i}`) })) },
    });
    expect(new Set(unkeyed.body.offsets.map((o: { partition: number }) => o.partition)).size).toBeGreaterThan(
      1,
    );
  });

  it("POST /topics/{t}/partitions/{p}: every record in that partition; a record naming another is refused", async () => {
    const res = await call(url, "POST", `/topics/${topic}/partitions/1`, {
      contentType: BINARY,
      body: { records: [{ key: b64("a"), value: b64("1") }, { value: b64("2") }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.offsets.map((o: { partition: number }) => o.partition)).toEqual([1, 1]);
    const before = await ends(topic);
    const bad = await call(url, "POST", `/topics/${topic}/partitions/1`, {
      contentType: BINARY,
      body: { records: [{ value: b64("x"), partition: 2 }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error_code).toBe(422);
    expect(await ends(topic)).toEqual(before);
    const missing = await call(url, "POST", `/topics/${topic}/partitions/7`, {
      contentType: BINARY,
      body: { records: [{ value: b64("x") }] },
    });
    expect([missing.status, missing.body.error_code]).toEqual([404, 40402]);
  });

  it("plain application/json (and no Content-Type) is taken, with the binary embedded format assumed", async () => {
    const res = await call(url, "POST", `/topics/${topic}/partitions/0`, {
      contentType: "application/json",
      body: { records: [{ value: b64("from application/json") }] },
    });
    expect(res.status).toBe(200);
    const none = await call(url, "POST", `/topics/${topic}/partitions/0`, {
      contentType: null,
      body: { records: [{ value: b64("no content type") }] },
    });
    expect(none.status).toBe(200);
    const notBase64 = await call(url, "POST", `/topics/${topic}/partitions/0`, {
      contentType: "application/json",
      body: { records: [{ value: { a: 1 } }] },
    });
    expect([notBase64.status, notBase64.body.error_code]).toEqual([400, 400]);
  });
});

describe("produce: bad requests are refused whole, nothing written, never a created topic", () => {
  it("a topic that does not exist: 404, 40401, and it is not created", async () => {
    const ghost = uniq("rp-ghost");
    const res = await call(url, "POST", `/topics/${ghost}`, {
      contentType: BINARY,
      body: { records: [{ value: b64("x") }] },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe(V2);
    expect(res.body).toEqual({ error_code: 40401, message: expect.stringContaining(ghost) });
    expect(await topicExists(bootstrap, ghost)).toBe(false);
    expect((await call(url, "GET", `/topics/${ghost}`)).body.error_code).toBe(40401);
  });

  it.each([
    ["bad!name", "may only contain"],
    ["with space", "may only contain"],
    ["x".repeat(250), "longer than 249"],
  ])("a topic name Kafka rejects (%#): 400, 40002, not created", async (name, why) => {
    const res = await call(url, "POST", `/topics/${encodeURIComponent(name)}`, {
      contentType: BINARY,
      body: { records: [{ value: b64("x") }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe(40002);
    expect(res.body.message).toContain(why);
    expect(await topicExists(bootstrap, name)).toBe(false);
  });

  it("one bad record (not base64, wrong partition, bad header, too large) refuses the whole request", async () => {
    const before = await ends(topic);
    const good = { key: b64("ok"), value: b64("ok") };
    const cases: [unknown, number, number][] = [
      [{ value: "not base64!" }, 400, 400],
      [{ value: 12 }, 400, 400],
      [{ value: b64("x"), partition: 99 }, 404, 40402],
      [{ value: b64("x"), partition: -1 }, 422, 422],
      [{ value: b64("x"), headers: { "rivulet.id": "abc" } }, 422, 422],
      [{ value: b64("x"), headers: [{ value: b64("no name") }] }, 422, 422],
      [{ value: b64("x"), timestamp: "yesterday" }, 422, 422],
      ["not an object", 422, 422],
    ];
    for (const [bad, status, code] of cases) {
      const res = await call(url, "POST", `/topics/${topic}`, {
        contentType: BINARY,
        body: { records: [good, bad, good] },
      });
      expect([res.status, res.body.error_code], JSON.stringify(bad)).toEqual([status, code]);
      expect(res.body.message, JSON.stringify(bad)).toMatch(/records\[1\]/);
    }
    expect(await ends(topic)).toEqual(before);

    const beforeSmall = await ends(small);
    const big = await call(url, "POST", `/topics/${small}`, {
      contentType: BINARY,
      body: { records: [good, { value: b64("y".repeat(3000)) }] },
    });
    expect([big.status, big.body.error_code]).toEqual([422, 42206]);
    expect(big.body.message).toContain("max.message.bytes");
    expect(await ends(small)).toEqual(beforeSmall);
  });

  it("missing or empty records, a body that is not an object, malformed JSON", async () => {
    const post = (raw: string) => call(url, "POST", `/topics/${topic}`, { contentType: BINARY, raw });
    for (const raw of ['{"records":[]}', "{}", '{"records":{}}', "[1]", "", '{"records":null}']) {
      const res = await post(raw);
      expect([res.status, res.body.error_code], raw).toEqual([422, 422]);
    }
    const malformed = await post('{"records": [');
    expect([malformed.status, malformed.body.error_code]).toEqual([400, 400]);
    expect(malformed.text).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("a content type that is not v2 JSON: 415 with a v2 error body", async () => {
    for (const type of [
      "text/plain",
      "application/vnd.kafka.avro.v2+json",
      "application/vnd.kafka.binary.v1+json",
    ]) {
      const res = await call(url, "POST", `/topics/${topic}`, {
        contentType: type,
        raw: '{"records":[{"value":"eA=="}]}',
      });
      expect([res.status, res.body.error_code], type).toEqual([415, 415]);
      expect(res.headers.get("content-type")).toBe(V2);
    }
  });
});

describe("metadata", () => {
  it("GET / and GET /brokers", async () => {
    expect((await call(url, "GET", "/")).body).toEqual({});
    const brokers = await call(url, "GET", "/brokers", { accept: V2 });
    expect(brokers.status).toBe(200);
    expect(brokers.body).toEqual({ brokers: [1] });
  });

  it("GET /topics lists topics, not Kafka's internal ones", async () => {
    const res = await call(url, "GET", "/topics", {
      accept: `${V2}, application/vnd.kafka+json, application/json`,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.arrayContaining([topic, placed]));
    expect(res.body).not.toContain("__consumer_offsets");
  });

  it("GET /topics/{t}: name, configs, partitions with leader and replicas", async () => {
    const res = await call(url, "GET", `/topics/${topic}`);
    expect(res.status).toBe(200);
    expect(res.body.name).toBe(topic);
    expect(res.body.configs["cleanup.policy"]).toBe("delete");
    expect(res.body.partitions).toEqual(
      [0, 1, 2].map((p) => ({
        partition: p,
        leader: 1,
        replicas: [{ broker: 1, leader: true, in_sync: true }],
      })),
    );
  });

  it("GET /topics/{t}/partitions, .../partitions/{p}, .../partitions/{p}/offsets", async () => {
    const list = await call(url, "GET", `/topics/${topic}/partitions`);
    expect(list.body.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);
    const one = await call(url, "GET", `/topics/${topic}/partitions/1`);
    expect(one.body).toEqual({
      partition: 1,
      leader: 1,
      replicas: [{ broker: 1, leader: true, in_sync: true }],
    });
    const offsets = await call(url, "GET", `/topics/${topic}/partitions/1/offsets`);
    expect(offsets.body.beginning_offset).toBe(0);
    expect(offsets.body.end_offset).toBeGreaterThanOrEqual(3);
    for (const p of ["3", "x", "-1"]) {
      const res = await call(url, "GET", `/topics/${topic}/partitions/${p}`);
      expect([res.status, res.body.error_code], p).toEqual([404, 40402]);
    }
    const noTopic = await call(url, "GET", `/topics/${uniq("rp-none")}/partitions`);
    expect([noTopic.status, noTopic.body.error_code]).toEqual([404, 40401]);
  });

  it("an unknown route is a v2 404; an Accept without JSON is a 406", async () => {
    const res = await call(url, "GET", "/v3/clusters");
    expect([res.status, res.body.error_code]).toEqual([404, 404]);
    const html = await call(url, "GET", "/topics", { accept: "text/html" });
    expect([html.status, html.body.error_code]).toEqual([406, 406]);
  });
});
