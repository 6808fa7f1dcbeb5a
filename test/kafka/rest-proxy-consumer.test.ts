// Rivulet's REST proxy (a real `rivulet proxy` process, the suite's real broker): consumer
// instances request by request against Confluent's v2 reference: create, assign or subscribe,
// seek, records, commit with metadata, committed offsets, delete; checked against Kafka with
// KafkaJS's own admin client where the proxy's word is not enough.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kafkaAdmin, uniq } from "./kafka-helpers.js";
import {
  BINARY,
  b64,
  call,
  createTopics,
  getWithBody,
  JSON_V2,
  type ProxyProcess,
  startProxy,
  unb64,
  V2,
} from "./rest-proxy-helpers.js";

const bootstrap = inject("kafkaBootstrap");
let proxy: ProxyProcess;
let url: string;

interface Rec {
  topic: string;
  key: string | null;
  value: unknown;
  partition: number;
  offset: number;
  timestamp: number;
  headers?: { name: string; value: string | null }[];
}

beforeAll(async () => {
  proxy = await startProxy(bootstrap);
  url = proxy.url;
});

afterAll(async () => {
  expect(await proxy?.stop()).toBe(0);
});

async function newTopic(partitions: number): Promise<string> {
  const topic = uniq("rp-c");
  await createTopics(bootstrap, [{ topic, partitions }]);
  return topic;
}

async function produce(topic: string, partition: number, values: string[], headers = false): Promise<void> {
  const res = await call(url, "POST", `/topics/${topic}/partitions/${partition}`, {
    contentType: BINARY,
    body: {
      records: values.map((v) => ({
        key: b64(`k-${v}`),
        value: b64(v),
        ...(headers ? { headers: [{ name: "rivulet.id", value: b64(`id-${v}`) }] } : {}),
      })),
    },
  });
  expect(res.status).toBe(200);
}

/** Makes an instance; returns its path. */
async function instance(group: string, config: Record<string, unknown> = {}): Promise<string> {
  const res = await call(url, "POST", `/consumers/${group}`, {
    body: { format: "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false", ...config },
  });
  expect(res.status, res.text).toBe(200);
  return `/consumers/${group}/instances/${res.body.instance_id}`;
}

async function assign(path: string, partitions: { topic: string; partition: number }[]): Promise<void> {
  const res = await call(url, "POST", `${path}/assignments`, { body: { partitions } });
  expect(res.status, res.text).toBe(204);
}

async function fetchOnce(path: string, query = "timeout=1000", accept = BINARY) {
  return call(url, "GET", `${path}/records?${query}`, { accept });
}

/** Fetches until `n` records came (or fails after 20 s). */
async function fetchN(path: string, n: number, query = "timeout=1000"): Promise<Rec[]> {
  const out: Rec[] = [];
  const deadline = Date.now() + 20_000;
  while (out.length < n) {
    const res = await fetchOnce(path, query);
    expect(res.status, res.text).toBe(200);
    out.push(...(res.body as Rec[]));
    if (Date.now() > deadline) throw new Error(`${out.length} of ${n} records after 20 s`);
  }
  return out;
}

describe("consumer instances", () => {
  it("POST /consumers/{group}: instance_id and base_uri; a taken name is 409 (40902); bad settings are 422", async () => {
    const group = uniq("rp-g");
    const res = await call(url, "POST", `/consumers/${group}`, {
      body: {
        name: "my_consumer",
        format: "binary",
        "auto.offset.reset": "earliest",
        "auto.commit.enable": "false",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(V2);
    expect(res.body).toEqual({
      instance_id: "my_consumer",
      base_uri: `${url}/consumers/${group}/instances/my_consumer`,
    });
    const again = await call(url, "POST", `/consumers/${group}`, { body: { name: "my_consumer" } });
    expect([again.status, again.body.error_code]).toEqual([409, 40902]);
    const unnamed = await call(url, "POST", `/consumers/${group}`, { body: {} });
    expect(unnamed.body.instance_id).toMatch(/^rest-consumer-/);
    const empty = await call(url, "POST", `/consumers/${group}`, { contentType: V2, raw: "" });
    expect(empty.status).toBe(200);

    const bad: [Record<string, unknown>, number][] = [
      [{ "auto.offset.reset": "bad-config" }, 42204],
      [{ format: "avro" }, 42204],
      [{ format: "xml" }, 422],
      [{ "auto.commit.enable": "maybe" }, 42204],
      [{ "fetch.min.bytes": 20_000_000 }, 40001],
      [{ "consumer.request.timeout.ms": "soon" }, 42204],
    ];
    for (const [body, code] of bad) {
      const r = await call(url, "POST", `/consumers/${group}`, { body });
      expect([r.status, r.body.error_code], JSON.stringify(body)).toEqual([422, code]);
    }
  });

  it("assign, then records in the binary format with v2's fields (and headers, timestamp)", async () => {
    const topic = await newTopic(3);
    await produce(topic, 0, ["a0", "a1"], true);
    await produce(topic, 1, ["b0", "b1", "b2"]);
    await produce(topic, 2, ["c0"]);
    const path = await instance(uniq("rp-g"));
    await assign(path, [
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    expect((await call(url, "GET", `${path}/assignments`)).body).toEqual({
      partitions: [
        { topic, partition: 0 },
        { topic, partition: 1 },
      ],
    });
    expect((await call(url, "GET", `${path}/subscription`)).body).toEqual({ topics: [] });

    const records = await fetchN(path, 5);
    expect(records).toHaveLength(5);
    const first = records.find((r) => r.partition === 0 && r.offset === 0)!;
    expect(first).toEqual({
      topic,
      key: b64("k-a0"),
      value: b64("a0"),
      partition: 0,
      offset: 0,
      timestamp: expect.any(Number),
      headers: [{ name: "rivulet.id", value: b64("id-a0") }],
    });
    // Exactly the assigned partitions, each in order, nothing twice.
    expect(records.every((r) => r.partition !== 2)).toBe(true);
    for (const p of [0, 1]) {
      const offs = records.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offs).toEqual([...offs.keys()]);
    }
    expect(records.find((r) => r.partition === 1 && r.offset === 2)!.headers).toBeUndefined();
    const res = await fetchOnce(path, "timeout=300");
    expect(res.headers.get("content-type")).toBe(BINARY);
    expect(res.body).toEqual([]);

    const sub = await call(url, "POST", `${path}/subscription`, { body: { topics: [topic] } });
    expect([sub.status, sub.body.error_code]).toEqual([409, 40903]);
  });

  it("json format: keys and values as JSON; an Accept of another embedded format is 406 (40601)", async () => {
    const topic = await newTopic(1);
    const res = await call(url, "POST", `/topics/${topic}`, {
      contentType: JSON_V2,
      body: { records: [{ key: "somekey", value: { foo: "bar" } }, { value: ["foo", "bar"] }] },
    });
    expect(res.status).toBe(200);
    const path = await instance(uniq("rp-g"), { format: "json" });
    await assign(path, [{ topic, partition: 0 }]);
    const wrong = await fetchOnce(path, "timeout=100", BINARY);
    expect([wrong.status, wrong.body.error_code]).toEqual([406, 40601]);
    const records: Rec[] = [];
    while (records.length < 2) {
      const r = await fetchOnce(path, "timeout=1000", JSON_V2);
      expect(r.headers.get("content-type")).toBe(JSON_V2);
      records.push(...r.body);
    }
    expect(records.map((r) => [r.key, r.value])).toEqual([
      ["somekey", { foo: "bar" }],
      [null, ["foo", "bar"]],
    ]);
    // Bytes that are not JSON: 422 (42203) naming the record, until the client seeks past it.
    await produce(topic, 0, ["not json"]);
    let bad = await fetchOnce(path, "timeout=2000", JSON_V2);
    for (let i = 0; i < 20 && bad.status === 200 && (bad.body as Rec[]).length === 0; i++)
      bad = await fetchOnce(path, "timeout=500", JSON_V2);
    expect([bad.status, bad.body.error_code]).toEqual([422, 42203]);
    expect(bad.body.message).toContain(`${topic}[0] offset 2`);
    const past = await call(url, "POST", `${path}/positions`, {
      body: { offsets: [{ topic, partition: 0, offset: 3 }] },
    });
    expect(past.status).toBe(204);
    expect((await fetchOnce(path, "timeout=200", JSON_V2)).body).toEqual([]);
  });

  it("records waits up to its timeout for data, and returns as soon as some comes", async () => {
    const topic = await newTopic(1);
    const path = await instance(uniq("rp-g"));
    await assign(path, [{ topic, partition: 0 }]);
    const empty = await fetchOnce(path, "timeout=800");
    expect(empty.body).toEqual([]);
    expect(empty.ms).toBeGreaterThanOrEqual(700);
    const waiting = fetchOnce(path, "timeout=10000");
    await new Promise((r) => setTimeout(r, 300));
    await produce(topic, 0, ["late"]);
    const got = await waiting;
    expect(got.body.map((r: Rec) => unb64(r.value as string))).toEqual(["late"]);
    expect(got.ms).toBeLessThan(5_000);
  });

  it("max_bytes bounds a response (keys and values), and the next one goes on without a gap", async () => {
    const topic = await newTopic(1);
    const values = Array.from({ length: 10 }, (_, i) => `${i}`.padStart(95, "v")); // key 97 + value 95 bytes
    await produce(topic, 0, values);
    const path = await instance(uniq("rp-g"));
    await assign(path, [{ topic, partition: 0 }]);
    const seen: number[] = [];
    const deadline = Date.now() + 20_000;
    while (seen.length < 10 && Date.now() < deadline) {
      const res = await fetchOnce(path, "timeout=1000&max_bytes=400");
      const batch = res.body as Rec[];
      const bytes = batch.reduce(
        (n, r) => n + Buffer.from(r.key!, "base64").length + Buffer.from(r.value as string, "base64").length,
        0,
      );
      expect(bytes).toBeLessThanOrEqual(400);
      expect(batch.length).toBeLessThanOrEqual(2);
      seen.push(...batch.map((r) => r.offset));
    }
    expect(seen).toEqual([...Array(10).keys()]);
    // A record larger than max_bytes still comes, alone: the consumer never stalls.
    await call(url, "POST", `${path}/positions/beginning`, {
      body: { partitions: [{ topic, partition: 0 }] },
    });
    const one = await fetchN(path, 1, "timeout=2000&max_bytes=10");
    expect(one.map((r) => r.offset)).toEqual([0]);
  });

  it("a lost fetch: seeking back gives the same records again; beginning and end move the position", async () => {
    const topic = await newTopic(2);
    await produce(topic, 0, ["r0", "r1", "r2", "r3"]);
    await produce(topic, 1, ["s0", "s1"]);
    const path = await instance(uniq("rp-g"));
    await assign(path, [
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    const first = await fetchN(path, 6);
    // The client lost that response: it seeks back to where it was and fetches again.
    const back = await call(url, "POST", `${path}/positions`, {
      body: {
        offsets: [
          { topic, partition: 0, offset: 0 },
          { topic, partition: 1, offset: 0 },
        ],
      },
    });
    expect(back.status).toBe(204);
    const again = await fetchN(path, 6);
    const sortKey = (r: Rec) => `${r.partition}/${String(r.offset).padStart(4, "0")}`;
    expect(again.map(sortKey).sort()).toEqual(first.map(sortKey).sort());
    expect(new Map(again.map((r) => [sortKey(r), r.value]))).toEqual(
      new Map(first.map((r) => [sortKey(r), r.value])),
    );

    // In the middle, with records buffered: the rest of partition 0 from offset 2, nothing else.
    await call(url, "POST", `${path}/positions`, { body: { offsets: [{ topic, partition: 0, offset: 2 }] } });
    const rest = await fetchN(path, 2);
    expect(rest.map((r) => [r.partition, r.offset])).toEqual([
      [0, 2],
      [0, 3],
    ]);

    await call(url, "POST", `${path}/positions/beginning`, {
      body: { partitions: [{ topic, partition: 1 }] },
    });
    expect((await fetchN(path, 2)).map((r) => [r.partition, r.offset])).toEqual([
      [1, 0],
      [1, 1],
    ]);
    const end = await call(url, "POST", `${path}/positions/end`, {
      body: {
        partitions: [
          { topic, partition: 0 },
          { topic, partition: 1 },
        ],
      },
    });
    expect(end.status).toBe(204);
    await produce(topic, 1, ["s2"]);
    expect((await fetchN(path, 1)).map((r) => [r.partition, r.offset, unb64(r.value as string)])).toEqual([
      [1, 2, "s2"],
    ]);
    // Beyond the end: clamped to it (the next record to come).
    await call(url, "POST", `${path}/positions`, {
      body: { offsets: [{ topic, partition: 0, offset: 1_000 }] },
    });
    await produce(topic, 0, ["r4"]);
    expect((await fetchN(path, 1)).map((r) => [r.partition, r.offset])).toEqual([[0, 4]]);

    const notMine = await call(url, "POST", `${path}/positions`, {
      body: { offsets: [{ topic, partition: 5, offset: 0 }] },
    });
    expect([notMine.status, notMine.body.error_code]).toEqual([409, 40903]);
  });

  it("commit with offset metadata, read back by GET .../offsets and by Kafka; a new instance starts there", async () => {
    const topic = await newTopic(2);
    await produce(topic, 0, ["a", "b", "c", "d"]);
    await produce(topic, 1, ["e", "f"]);
    const group = uniq("rp-g");
    const path = await instance(group);
    await assign(path, [
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    await fetchN(path, 6);
    const commit = await call(url, "POST", `${path}/offsets`, {
      body: {
        offsets: [
          { topic, partition: 0, offset: 2, metadata: "checkpoint-7" },
          { topic, partition: 1, offset: 1 },
        ],
      },
    });
    expect(commit.status).toBe(200);
    expect(commit.body).toEqual([]);
    const read = await getWithBody(url, `${path}/offsets`, {
      partitions: [
        { topic, partition: 0 },
        { topic, partition: 1 },
      ],
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      offsets: [
        { topic, partition: 0, offset: 2, metadata: "checkpoint-7" },
        { topic, partition: 1, offset: 1, metadata: "" },
      ],
    });
    const admin = kafkaAdmin(bootstrap);
    await admin.connect();
    try {
      const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(fetched!.partitions.find((p) => p.partition === 0)).toMatchObject({
        offset: "2",
        metadata: "checkpoint-7",
      });
      // Without a body: what the instance returned (v2's "commit all the records fetched").
      expect((await call(url, "POST", `${path}/offsets`)).status).toBe(200);
      const [after] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(after!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
        [0, "4"],
        [1, "2"],
      ]);
    } finally {
      await admin.disconnect();
    }
    // Without a body (fetch() cannot send one with GET): the instance's partitions.
    expect((await call(url, "GET", `${path}/offsets`)).body.offsets).toEqual([
      { topic, partition: 0, offset: 4, metadata: "" },
      { topic, partition: 1, offset: 2, metadata: "" },
    ]);

    // Back to offset 1 with metadata, then a new instance of the group starts from there.
    await call(url, "POST", `${path}/offsets`, {
      body: { offsets: [{ topic, partition: 0, offset: 1, metadata: "m" }] },
    });
    expect((await call(url, "DELETE", path)).status).toBe(204);
    const next = await instance(group, { "auto.offset.reset": "latest" });
    await assign(next, [{ topic, partition: 0 }]);
    expect((await fetchN(next, 3)).map((r) => r.offset)).toEqual([1, 2, 3]);
    const badTopic = await call(url, "POST", `${next}/offsets`, {
      body: { offsets: [{ topic, partition: 9, offset: 1 }] },
    });
    expect([badTopic.status, badTopic.body.error_code]).toEqual([404, 40402]);
    const badMeta = await call(url, "POST", `${next}/offsets`, {
      body: { offsets: [{ topic, partition: 0, offset: 1, metadata: 7 }] },
    });
    expect([badMeta.status, badMeta.body.error_code]).toEqual([422, 422]);
  });

  it("subscribe: all partitions of the topics; then unsubscribe; two assigned instances of one group get exactly theirs", async () => {
    const topic = await newTopic(3);
    for (const p of [0, 1, 2]) await produce(topic, p, [`p${p}-0`, `p${p}-1`]);
    const group = uniq("rp-g");
    const sub = await instance(group);
    const res = await call(url, "POST", `${sub}/subscription`, { body: { topics: [topic] } });
    expect(res.status, res.text).toBe(204);
    expect((await call(url, "GET", `${sub}/subscription`)).body).toEqual({ topics: [topic] });
    const records = await fetchN(sub, 6);
    expect(new Set(records.map((r) => r.partition))).toEqual(new Set([0, 1, 2]));
    expect((await call(url, "GET", `${sub}/assignments`)).body.partitions).toHaveLength(3);
    const assignWhileSubscribed = await call(url, "POST", `${sub}/assignments`, {
      body: { partitions: [{ topic, partition: 0 }] },
    });
    expect([assignWhileSubscribed.status, assignWhileSubscribed.body.error_code]).toEqual([409, 40903]);
    expect((await call(url, "DELETE", `${sub}/subscription`)).status).toBe(204);
    expect((await call(url, "GET", `${sub}/subscription`)).body).toEqual({ topics: [] });
    const none = await fetchOnce(sub, "timeout=100");
    expect([none.status, none.body.error_code]).toEqual([409, 40903]);

    // Manual assignment in one group: each instance reads exactly the partitions it asked for.
    const pattern = await instance(group);
    const byPattern = await call(url, "POST", `${pattern}/subscription`, {
      body: { topic_pattern: `${topic}$` },
    });
    expect(byPattern.status).toBe(204);
    expect((await call(url, "GET", `${pattern}/subscription`)).body).toEqual({ topics: [topic] });
    await call(url, "DELETE", pattern);
    const a = await instance(group);
    const b = await instance(group);
    await assign(a, [{ topic, partition: 0 }]);
    await assign(b, [
      { topic, partition: 1 },
      { topic, partition: 2 },
    ]);
    const fromA = await fetchN(a, 2);
    const fromB = await fetchN(b, 4);
    expect(new Set(fromA.map((r) => r.partition))).toEqual(new Set([0]));
    expect(new Set(fromB.map((r) => r.partition))).toEqual(new Set([1, 2]));
    expect((await fetchOnce(a, "timeout=300")).body).toEqual([]);
  });

  it("another instance joining the group (a rebalance) does not move an instance's position", async () => {
    const topic = await newTopic(2);
    await produce(topic, 0, ["a", "b", "c", "d"]);
    await produce(topic, 1, ["x"]);
    const group = uniq("rp-g");
    const first = await instance(group);
    await assign(first, [{ topic, partition: 0 }]);
    const before = await fetchN(first, 1, "timeout=1000&max_bytes=1");
    expect(before.map((r) => r.offset)).toEqual([0]);
    const second = await instance(group);
    await assign(second, [{ topic, partition: 1 }]);
    expect((await fetchN(second, 1)).map((r) => [r.partition, r.offset])).toEqual([[1, 0]]);
    const after = await fetchN(first, 3);
    expect(after.map((r) => [r.partition, r.offset])).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
    ]);
  });

  it("unknown topics, partitions and instances; a deleted instance is gone (40403)", async () => {
    const topic = await newTopic(1);
    const path = await instance(uniq("rp-g"));
    const noTopic = await call(url, "POST", `${path}/assignments`, {
      body: { partitions: [{ topic: uniq("rp-none"), partition: 0 }] },
    });
    expect([noTopic.status, noTopic.body.error_code]).toEqual([404, 40401]);
    const noPartition = await call(url, "POST", `${path}/assignments`, {
      body: { partitions: [{ topic, partition: 4 }] },
    });
    expect([noPartition.status, noPartition.body.error_code]).toEqual([404, 40402]);
    const badName = await call(url, "POST", `${path}/subscription`, { body: { topics: ["no such!"] } });
    expect([badName.status, badName.body.error_code]).toEqual([400, 40002]);
    const noBody = await call(url, "POST", `${path}/assignments`, { body: {} });
    expect([noBody.status, noBody.body.error_code]).toEqual([422, 422]);

    expect((await call(url, "DELETE", path)).status).toBe(204);
    for (const [method, sub] of [
      ["GET", "/records"],
      ["GET", "/assignments"],
      ["GET", "/subscription"],
      ["POST", "/offsets"],
      ["DELETE", ""],
    ] as const) {
      const res = await call(url, method, `${path}${sub}`, { accept: BINARY });
      expect([res.status, res.body.error_code], `${method} ${sub}`).toEqual([404, 40403]);
      expect(res.headers.get("content-type")).toBe(V2);
    }
  });
});
