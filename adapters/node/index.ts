/**
 * Rivulet on Node: the {@link KafkaBroker} runs pipelines against Apache Kafka through KafkaJS,
 * exactly-once with transactions by default; {@link restProxy} serves Kafka over HTTP (a REST
 * proxy speaking Confluent's v2 API, for edge workers and browsers; needs the optional `hono`).
 *
 * @example
 * import { run } from "rivulet";
 * import { KafkaBroker } from "rivulet/node";
 * const broker = new KafkaBroker({ brokers: ["localhost:9092"] });
 * const job = await run(perMinute, { broker, group: "clicks-per-minute" });
 *
 * @module
 */

export { type ChangelogStoreOptions, KafkaChangelogStore } from "./changelog-store.js";
export { main as cli } from "./cli.js";
export { FileStateStore } from "./file-state-store.js";
export { KafkaBroker, type KafkaBrokerOptions, type KafkaLogLevel } from "./kafka-broker.js";
export { prometheusText, serveMetrics } from "./metrics.js";
export {
  type ProxyLogLevel,
  type RateLimitOptions,
  type RestProxy,
  type RestProxyOptions,
  type RestProxyServer,
  restProxy,
  type ServeRestProxyOptions,
  serveRestProxy,
} from "./rest-proxy/index.js";
