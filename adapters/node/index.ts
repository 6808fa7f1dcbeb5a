/**
 * Rivulet on Node: the {@link KafkaBroker} runs pipelines against Apache Kafka through KafkaJS,
 * exactly-once with transactions by default.
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
