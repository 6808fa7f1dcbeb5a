/**
 * v2's consumer resources: instances (`POST /consumers/{group}`, `DELETE .../instances/{name}`),
 * subscription, assignments, positions (seek), records, and offsets (commit, with per-offset
 * `metadata`; committed offsets). Every request body is read and checked before the instance
 * acts on it.
 *
 * @example
 * consumerRoutes(app, { clients, metadata, instances, options });
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { ConsumerInstance, type InstanceConfig } from "./consumer-instance.js";
import { kafkaError, proxyErrors } from "./errors.js";
import { int, list, object, string, topicName, topicPartitions } from "./fields.js";
import {
  checkAccept,
  checkRecordsAccept,
  checkRequestType,
  getBody,
  jsonBody,
  noContent,
  reply,
} from "./http.js";
import type { Instances } from "./instances.js";
import type { KafkaClients } from "./kafka-clients.js";
import type { Metadata } from "./metadata.js";

export interface ConsumerRouteOptions {
  /** Proxy base URL for `base_uri` (default: the request's origin). */
  baseUrl: string | undefined;
  /** Fetch wait when neither the request nor the instance names one (ms). */
  fetchTimeout: number;
  /** Longest a fetch may wait (ms). */
  maxFetchWait: number;
  /** Largest `max_bytes` (and the default). */
  maxResponseBytes: number;
  /** Fetched bytes an instance holds before pausing. */
  instanceBufferBytes: number;
  /** Body limit, for GET bodies read outside Hono. */
  bodyLimit: number;
}

export interface ConsumerRouteDeps {
  clients: KafkaClients;
  metadata: Metadata;
  instances: Instances;
  options: ConsumerRouteOptions;
}

const INSTANCE = "/consumers/:group/instances/:name";

/** A consumer setting that may come as a number or a numeric string (as Confluent's Jackson takes it). */
function numeric(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : Number.NaN;
}

function flag(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw proxyErrors.invalidConsumerConfig(`${name} must be true or false`);
}

/** The settings of `POST /consumers/{group}`, checked. */
function instanceConfig(group: string, body: unknown, options: ConsumerRouteOptions): InstanceConfig {
  const o = object(body ?? {}, "the request body");
  const rawName = o.id ?? o.name;
  const name =
    rawName === undefined || rawName === null ? `rest-consumer-${randomUUID()}` : string(rawName, "name");
  if (name.length > 249 || [...name].some((ch) => ch.charCodeAt(0) < 0x20))
    throw proxyErrors.unprocessable("name must be at most 249 characters, without control characters");
  const format =
    typeof o.format === "string" ? o.format.toLowerCase() : o.format === undefined ? "binary" : "";
  if (format === "avro" || format === "jsonschema" || format === "protobuf")
    throw proxyErrors.invalidConsumerConfig(
      `format ${format} needs a schema registry, which this proxy has not`,
    );
  if (format !== "binary" && format !== "json") throw proxyErrors.unprocessable("Invalid format type.");
  const reset = o["auto.offset.reset"] ?? "latest";
  if (reset !== "earliest" && reset !== "latest")
    throw proxyErrors.invalidConsumerConfig(
      `auto.offset.reset must be earliest or latest, got ${JSON.stringify(reset)}`,
    );
  const minBytes = numeric(o["fetch.min.bytes"]) ?? 1;
  if (!(minBytes >= -1 && minBytes <= 10_000_000))
    throw proxyErrors.consumerConfigConstraint("fetch.min.bytes must be an integer from -1 to 10000000");
  const wait = numeric(o["consumer.request.timeout.ms"]);
  if (wait !== undefined && !(wait >= 0))
    throw proxyErrors.invalidConsumerConfig("consumer.request.timeout.ms must be a non-negative integer");
  const isolation = o["isolation.level"] ?? "read_committed";
  if (isolation !== "read_committed" && isolation !== "read_uncommitted")
    throw proxyErrors.invalidConsumerConfig("isolation.level must be read_committed or read_uncommitted");
  return {
    group,
    name,
    format,
    autoOffsetReset: reset,
    autoCommit: flag(o["auto.commit.enable"], "auto.commit.enable") ?? true,
    fetchMinBytes: minBytes,
    requestTimeout: wait === undefined ? undefined : Math.min(wait, options.maxFetchWait),
    readUncommitted: isolation === "read_uncommitted",
    bufferBytes: options.instanceBufferBytes,
  };
}

/** `offsets: [{ topic, partition, offset, metadata? }]`. */
function offsetList(body: unknown) {
  return list(object(body, "the request body").offsets, "offsets").map((item, i) => {
    const o = object(item, `offsets[${i}]`);
    const metadata = o.metadata;
    if (metadata !== undefined && metadata !== null && typeof metadata !== "string")
      throw proxyErrors.unprocessable(`offsets[${i}].metadata must be a string`);
    return {
      topic: topicName(o.topic, `offsets[${i}].topic`),
      partition: int(o.partition, `offsets[${i}].partition`, 0, 2 ** 31 - 1),
      offset: int(o.offset, `offsets[${i}].offset`),
      ...(typeof metadata === "string" ? { metadata } : {}),
    };
  });
}

function queryInt(c: Context, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw proxyErrors.badRequest(`the query parameter ${name} must be an integer`);
  return Number(raw);
}

export function consumerRoutes(
  app: Hono,
  { clients, metadata, instances, options }: ConsumerRouteDeps,
): void {
  const use = <T>(c: Context, f: (i: ConsumerInstance) => Promise<T> | T) =>
    instances.use(c.req.param("group") ?? "", c.req.param("name") ?? "", f);

  app.post("/consumers/:group", async (c) => {
    checkRequestType(c);
    checkAccept(c);
    const group = c.req.param("group");
    if (group.trim() === "") throw proxyErrors.unprocessable("the consumer group id must not be empty");
    const config = instanceConfig(group, await jsonBody(c), options);
    const release = instances.reserve(group, config.name);
    try {
      instances.add(new ConsumerInstance(clients, metadata, config));
    } finally {
      release();
    }
    const base = options.baseUrl ?? new URL(c.req.url).origin;
    const path = `/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(config.name)}`;
    return reply(c, { instance_id: config.name, base_uri: `${base}${path}` });
  });

  app.delete(INSTANCE, async (c) => {
    checkAccept(c);
    await instances.delete(c.req.param("group"), c.req.param("name"));
    return noContent(c);
  });

  app.post(`${INSTANCE}/subscription`, async (c) => {
    checkRequestType(c);
    const body = object(await jsonBody(c), "the request body");
    return use(c, async (i) => {
      const hasTopics = body.topics !== undefined && body.topics !== null;
      const hasPattern = body.topic_pattern !== undefined && body.topic_pattern !== null;
      if (hasTopics && hasPattern)
        throw proxyErrors.illegalState(
          "Subscription to topics, partitions and pattern are mutually exclusive.",
        );
      let topics: string[];
      if (hasPattern) {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${string(body.topic_pattern, "topic_pattern")})$`);
        } catch (e) {
          throw proxyErrors.unprocessable(`topic_pattern is not a valid pattern: ${(e as Error).message}`);
        }
        topics = (await metadata.topicNames()).filter((t) => re.test(t));
      } else topics = list(body.topics, "topics").map((t, n) => topicName(t, `topics[${n}]`));
      await i.subscribe([...new Set(topics)]);
      return noContent(c);
    });
  });

  app.get(`${INSTANCE}/subscription`, (c) => use(c, (i) => reply(c, { topics: i.subscription() })));

  app.delete(`${INSTANCE}/subscription`, (c) =>
    use(c, async (i) => {
      await i.unsubscribe();
      return noContent(c);
    }),
  );

  app.post(`${INSTANCE}/assignments`, async (c) => {
    checkRequestType(c);
    const partitions = topicPartitions(
      object(await jsonBody(c), "the request body").partitions,
      "partitions",
    );
    return use(c, async (i) => {
      await i.assign(partitions);
      return noContent(c);
    });
  });

  app.get(`${INSTANCE}/assignments`, (c) => use(c, (i) => reply(c, { partitions: i.assignment() })));

  app.post(`${INSTANCE}/positions`, async (c) => {
    checkRequestType(c);
    const body = object(await jsonBody(c), "the request body");
    const offsets = body.offsets === undefined ? [] : offsetList(body);
    const stamps =
      body.timestamps === undefined || body.timestamps === null ? [] : list(body.timestamps, "timestamps");
    const byTime = stamps.map((item, n) => {
      const o = object(item, `timestamps[${n}]`);
      const at = typeof o.timestamp === "string" ? Date.parse(o.timestamp) : Number.NaN;
      if (Number.isNaN(at))
        throw proxyErrors.unprocessable(`timestamps[${n}].timestamp must be an ISO-8601 time`);
      return {
        topic: topicName(o.topic, `timestamps[${n}].topic`),
        partition: int(o.partition, `timestamps[${n}].partition`, 0, 2 ** 31 - 1),
        at,
      };
    });
    if (offsets.length === 0 && byTime.length === 0)
      throw proxyErrors.unprocessable("offsets may not be empty");
    return use(c, async (i) => {
      for (const t of byTime)
        offsets.push({ topic: t.topic, partition: t.partition, offset: await offsetAt(t) });
      await i.seek(offsets);
      return noContent(c);
    });
  });

  /** The first offset at or after a time (the end when there is none). */
  const offsetAt = async ({ topic, partition, at }: { topic: string; partition: number; at: number }) => {
    await metadata.partition(topic, partition);
    try {
      const admin = await clients.admin();
      const found = (await admin.fetchTopicOffsetsByTimestamp(topic, at)).find(
        (o) => o.partition === partition,
      );
      const offset = Number(found?.offset ?? -1);
      if (offset >= 0) return offset;
      const ends = await admin.fetchTopicOffsets(topic);
      return Number(ends.find((o) => o.partition === partition)?.high ?? 0);
    } catch (e) {
      throw kafkaError(`finding the offset of ${topic}[${partition}] at ${new Date(at).toISOString()}`, e);
    }
  };

  for (const where of ["beginning", "end"] as const)
    app.post(`${INSTANCE}/positions/${where}`, async (c) => {
      checkRequestType(c);
      const partitions = topicPartitions(
        object(await jsonBody(c), "the request body").partitions,
        "partitions",
      );
      return use(c, async (i) => {
        await i.seekTo(partitions, where);
        return noContent(c);
      });
    });

  app.get(`${INSTANCE}/records`, (c) =>
    use(c, async (i) => {
      const format = i.config.format;
      checkRecordsAccept(c, format);
      const timeout = queryInt(c, "timeout");
      const maxBytes = queryInt(c, "max_bytes");
      const timeoutMs = Math.min(
        timeout !== undefined && timeout > 0 ? timeout : (i.config.requestTimeout ?? options.fetchTimeout),
        options.maxFetchWait,
      );
      const records = await i.records({
        timeoutMs,
        maxBytes: Math.min(
          maxBytes !== undefined && maxBytes > 0 ? maxBytes : Infinity,
          options.maxResponseBytes,
        ),
      });
      return reply(c, records, 200, `application/vnd.kafka.${format}.v2+json`);
    }),
  );

  app.post(`${INSTANCE}/offsets`, async (c) => {
    checkRequestType(c);
    checkAccept(c);
    const body = await jsonBody(c);
    const offsets = body === undefined ? undefined : offsetList(body);
    return use(c, async (i) => {
      await i.commit(offsets);
      // Confluent's answer: a list, empty.
      return reply(c, []);
    });
  });

  app.get(`${INSTANCE}/offsets`, async (c) => {
    checkAccept(c);
    const body = await getBody(c, options.bodyLimit);
    // Without a body (fetch() cannot send one with GET): the instance's own partitions.
    const partitions =
      body === undefined
        ? undefined
        : topicPartitions(object(body, "the request body").partitions, "partitions");
    return use(c, async (i) => reply(c, { offsets: await i.committed(partitions) }));
  });
}
