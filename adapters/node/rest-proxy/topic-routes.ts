/**
 * v2's topic, partition and broker resources: metadata, and produce (`POST /topics/{topic}`,
 * `POST /topics/{topic}/partitions/{partition}`). A produce request is read and checked whole
 * before anything is written; a topic that does not exist is a 404 (40401), never created.
 *
 * @example
 * topicRoutes(app, { clients, metadata });
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { proxyErrors } from "./errors.js";
import { checkAccept, jsonBody, produceFormat, reply } from "./http.js";
import type { KafkaClients } from "./kafka-clients.js";
import { type Metadata, partitionView } from "./metadata.js";
import { produce } from "./producer.js";
import { produceRecords } from "./records.js";

export interface TopicRouteDeps {
  clients: KafkaClients;
  metadata: Metadata;
}

/** A partition id from the path (404, 40402, when it is not one). */
function partitionParam(c: Context): number {
  const raw = c.req.param("partition") ?? "";
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2 ** 31 - 1)
    throw proxyErrors.partitionNotFound(c.req.param("topic") ?? "", raw);
  return Number(raw);
}

export function topicRoutes(app: Hono, { clients, metadata }: TopicRouteDeps): void {
  // Confluent's root resource answers {}: a cheap "is it up" for clients and scripts.
  app.get("/", (c) => {
    checkAccept(c);
    return reply(c, {});
  });

  app.get("/topics", async (c) => {
    checkAccept(c);
    return reply(c, await metadata.topicNames());
  });

  app.get("/topics/:topic", async (c) => {
    checkAccept(c);
    const topic = await metadata.topic(c.req.param("topic"), { fresh: true });
    const configs = await metadata.configs(topic.name);
    return reply(c, { name: topic.name, configs, partitions: topic.partitions.map(partitionView) });
  });

  app.get("/topics/:topic/partitions", async (c) => {
    checkAccept(c);
    const topic = await metadata.topic(c.req.param("topic"), { fresh: true });
    return reply(c, topic.partitions.map(partitionView));
  });

  app.get("/topics/:topic/partitions/:partition", async (c) => {
    checkAccept(c);
    await metadata.topic(c.req.param("topic"), { fresh: true });
    return reply(c, partitionView(await metadata.partition(c.req.param("topic"), partitionParam(c))));
  });

  app.get("/topics/:topic/partitions/:partition/offsets", async (c) => {
    checkAccept(c);
    await metadata.topic(c.req.param("topic"), { fresh: true });
    return reply(c, await metadata.offsets(c.req.param("topic"), partitionParam(c)));
  });

  const producer = (byPartition: boolean) => async (c: Context) => {
    const format = produceFormat(c);
    checkAccept(c);
    const name = c.req.param("topic") ?? "";
    const partition = byPartition ? partitionParam(c) : undefined;
    // Read and checked whole first: a bad record refuses the request, nothing is written.
    const records = produceRecords(await jsonBody(c), format, partition);
    const topic = await metadata.topic(name);
    if (partition !== undefined) await metadata.partition(name, partition);
    const offsets = await produce(clients, topic, records);
    return reply(c, { offsets, key_schema_id: null, value_schema_id: null });
  };
  app.post("/topics/:topic", producer(false));
  app.post("/topics/:topic/partitions/:partition", producer(true));

  app.get("/brokers", async (c) => {
    checkAccept(c);
    return reply(c, { brokers: await metadata.brokers() });
  });
}
