#!/usr/bin/env node
// Smoke test of the real Kafka broker that test/infra/kafka.mjs starts, driven by KafkaJS:
// topics (partitioned, compacted), a consumer group with manual commits, and transactions
// (commit with sendOffsets, abort hidden from a read-committed consumer).
//
//   node test/infra/kafka-smoke.mjs            # starts its own broker (or uses $RIVULET_KAFKA)
//
// Prints PASS/FAIL per check and a closing "N passed, N failed" line; exits 1 on any failure.

import { Kafka, logLevel, Partitioners } from "kafkajs";
import { startKafka } from "./kafka.mjs";

const results = [];
// Unique names, so the script can also run again against a long-lived broker ($RIVULET_KAFKA).
const run = Date.now().toString(36);
const T = {
  parts: `smoke-3p-${run}`,
  compact: `smoke-compact-${run}`,
  txIn: `smoke-tx-in-${run}`,
  txOut: `smoke-tx-out-${run}`,
  group: `smoke-group-${run}`,
  txGroup: `smoke-tx-group-${run}`,
  txId: `smoke-tx-${run}`,
};
const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function check(name, fn, timeoutMs = 60_000) {
  const start = Date.now();
  try {
    const note = await withTimeout(Promise.resolve().then(fn), timeoutMs, name);
    results.push({ name, ok: true });
    console.log(`PASS ${name} (${secs(Date.now() - start)})${note ? ` - ${note}` : ""}`);
    return true;
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name} (${secs(Date.now() - start)}): ${e?.stack ?? e}`);
    return false;
  }
}

/** Consume `topic` from the beginning with a fresh group until `done(records)` or timeout. */
async function drain(kafka, topic, { groupId, readUncommitted = false, done, timeoutMs = 30_000 }) {
  const consumer = kafka.consumer({
    groupId,
    readUncommitted,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  const records = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone;
    const finished = new Promise((r) => {
      resolveDone = r;
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        for (const m of batch.messages) {
          records.push({ partition: batch.partition, ...m });
          resolveOffset(m.offset);
        }
        await heartbeat();
        if (done(records)) resolveDone();
      },
    });
    await withTimeout(finished, timeoutMs, `consuming ${topic}`).catch((e) => {
      throw new Error(
        `${e.message}; got ${records.length} records: ${records.map((r) => r.value?.toString()).join(",")}`,
      );
    });
    return records;
  } finally {
    await consumer.disconnect();
  }
}

let broker;
let kafka;
let admin;
const external = process.env.RIVULET_KAFKA;

try {
  const ok = await check(
    "broker starts",
    async () => {
      if (external) {
        broker = { bootstrap: external, stop: async () => {} };
        return `using RIVULET_KAFKA=${external}`;
      }
      broker = await startKafka();
      return `Kafka ${broker.version} at ${broker.bootstrap}, pid ${broker.pid} (${secs(Date.now() - t0)} since script start)`;
    },
    20 * 60_000,
  );
  if (!ok) throw new Error("no broker");

  kafka = new Kafka({
    clientId: "rivulet-smoke",
    brokers: [broker.bootstrap],
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();

  await check("describeCluster answers", async () => {
    const c = await admin.describeCluster();
    assert(c.brokers.length === 1, `brokers: ${JSON.stringify(c.brokers)}`);
    return `clusterId ${c.clusterId}, controller ${c.controller}`;
  });

  await check("create topic with 3 partitions", async () => {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: T.parts, numPartitions: 3 }] });
    const md = await admin.fetchTopicMetadata({ topics: [T.parts] });
    const parts = md.topics[0].partitions;
    assert(parts.length === 3, `partitions: ${parts.length}`);
    assert(
      parts.every((p) => p.leader === 1),
      `leaders: ${JSON.stringify(parts)}`,
    );
  });

  await check("create compacted topic", async () => {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: T.compact, numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] },
      ],
    });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: 2 /* ConfigResourceTypes.TOPIC */, name: T.compact, configNames: ["cleanup.policy"] },
      ],
    });
    const v = cfg.resources[0].configEntries.find((e) => e.configName === "cleanup.policy")?.configValue;
    assert(v === "compact", `cleanup.policy=${v}`);
    // Keyed writes and a tombstone are accepted by a compacted topic.
    const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.send({
      topic: T.compact,
      messages: [
        { key: "a", value: "1" },
        { key: "a", value: "2" },
        { key: "b", value: null },
      ],
    });
    await p.disconnect();
  });

  const N = 30;
  const baseTs = Date.now() - 3_600_000;
  await check("produce + consume (keys, headers, timestamps; group, eachBatch, manual commit)", async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: T.parts,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `key-${i % 10}`,
        value: `value-${i}`,
        headers: { "x-index": String(i), "x-source": "smoke" },
        timestamp: String(baseTs + i),
      })),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: T.group, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    await consumer.connect();
    const got = [];
    let resolveDone;
    const finished = new Promise((r) => {
      resolveDone = r;
    });
    try {
      await consumer.subscribe({ topic: T.parts, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
          for (const m of batch.messages) {
            got.push({ partition: batch.partition, ...m });
            resolveOffset(m.offset);
          }
          // autoCommit is off: commit explicitly what this batch consumed.
          const last = batch.messages.at(-1);
          if (last) {
            await consumer.commitOffsets([
              { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) },
            ]);
          }
          await heartbeat();
          await commitOffsetsIfNecessary(); // no-op with autoCommit off; must not throw
          if (got.length >= N) resolveDone();
        },
      });
      await withTimeout(finished, 40_000, `consume (got ${got.length}/${N})`);
    } finally {
      await consumer.disconnect();
    }

    assert(got.length === N, `got ${got.length} records`);
    const parts = new Set(got.map((r) => r.partition));
    assert(parts.size > 1, `all records on partitions ${[...parts]}`);
    for (const r of got) {
      const i = Number(r.headers["x-index"].toString());
      assert(r.value.toString() === `value-${i}`, `value ${r.value} for index ${i}`);
      assert(r.key.toString() === `key-${i % 10}`, `key ${r.key} for index ${i}`);
      assert(r.headers["x-source"].toString() === "smoke", "header x-source");
      assert(r.timestamp === String(baseTs + i), `timestamp ${r.timestamp} != ${baseTs + i}`);
    }
    // Same key -> same partition.
    const byKey = new Map();
    for (const r of got) {
      const k = r.key.toString();
      assert(!byKey.has(k) || byKey.get(k) === r.partition, `key ${k} on two partitions`);
      byKey.set(k, r.partition);
    }
    const offsets = await admin.fetchOffsets({ groupId: T.group, topics: [T.parts] });
    const committed = offsets[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    assert(committed === N, `committed offsets sum ${committed} != ${N}: ${JSON.stringify(offsets)}`);
    return `${N} records over partitions ${[...parts].sort().join(",")}, committed ${committed}`;
  });

  await check("transactions: send + sendOffsets + commit, abort hidden from read_committed", async () => {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: T.txIn, numPartitions: 1 },
        { topic: T.txOut, numPartitions: 1 },
      ],
    });
    const plain = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await plain.connect();
    await plain.send({
      topic: T.txIn,
      messages: Array.from({ length: 5 }, (_, i) => ({ key: `in-${i}`, value: `in-${i}` })),
    });
    await plain.disconnect();

    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId: T.txId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      // 1: committed, with the consumer group's offsets in the same transaction.
      let tx = await producer.transaction();
      await tx.send({
        topic: T.txOut,
        messages: Array.from({ length: 5 }, (_, i) => ({ key: `c-${i}`, value: `commit-${i}` })),
      });
      await tx.sendOffsets({
        consumerGroupId: T.txGroup,
        topics: [{ topic: T.txIn, partitions: [{ partition: 0, offset: "5" }] }],
      });
      await tx.commit();
      // 2: aborted.
      tx = await producer.transaction();
      await tx.send({
        topic: T.txOut,
        messages: Array.from({ length: 5 }, (_, i) => ({ key: `a-${i}`, value: `abort-${i}` })),
      });
      await tx.abort();
      // 3: committed after the abort, so a read_committed reader must skip the aborted middle.
      tx = await producer.transaction();
      await tx.send({
        topic: T.txOut,
        messages: [
          { key: "d-0", value: "commit2-0" },
          { key: "d-1", value: "commit2-1" },
        ],
      });
      await tx.commit();
    } finally {
      await producer.disconnect();
    }

    const committedView = await drain(kafka, T.txOut, {
      groupId: `smoke-tx-reader-committed-${run}`,
      readUncommitted: false,
      done: (rs) => rs.some((r) => r.value?.toString() === "commit2-1"),
    });
    const values = committedView.map((r) => r.value.toString());
    assert(!values.some((v) => v.startsWith("abort-")), `read_committed saw aborted records: ${values}`);
    const expected = ["commit-0", "commit-1", "commit-2", "commit-3", "commit-4", "commit2-0", "commit2-1"];
    assert(JSON.stringify(values) === JSON.stringify(expected), `read_committed saw ${values}`);

    // The aborted records were really written: a read_uncommitted reader sees them.
    const rawView = await drain(kafka, T.txOut, {
      groupId: `smoke-tx-reader-uncommitted-${run}`,
      readUncommitted: true,
      done: (rs) => rs.some((r) => r.value?.toString() === "commit2-1"),
    });
    const rawAborted = rawView.filter((r) => r.value.toString().startsWith("abort-")).length;
    assert(rawAborted === 5, `read_uncommitted saw ${rawAborted} aborted records`);

    const offs = await admin.fetchOffsets({ groupId: T.txGroup, topics: [T.txIn] });
    const off = offs[0].partitions.find((p) => p.partition === 0)?.offset;
    assert(off === "5", `smoke-tx-group offset ${off} (want 5): ${JSON.stringify(offs)}`);
    return `read_committed saw ${values.length} records, read_uncommitted ${rawView.length}; group offset ${off}`;
  });
} catch (e) {
  if (!results.some((r) => !r.ok)) {
    results.push({ name: "smoke script", ok: false });
    console.log(`FAIL smoke script: ${e?.stack ?? e}`);
  }
} finally {
  await admin?.disconnect().catch(() => {});
  if (broker) {
    await check("broker stops", async () => {
      const s = Date.now();
      await broker.stop();
      return secs(Date.now() - s);
    });
  }
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`total ${secs(Date.now() - t0)}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
