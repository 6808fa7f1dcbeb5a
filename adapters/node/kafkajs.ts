/**
 * KafkaJS, loaded once for the Node adapter. It is an optional peer dependency (browser and edge
 * users do not need it), so the adapter imports its values from here rather than from "kafkajs":
 * a missing install then fails with the command that fixes it instead of ERR_MODULE_NOT_FOUND.
 * Type-only imports from "kafkajs" need no install at run time and stay as they are.
 *
 * @example
 * import { Kafka, logLevel } from "./kafkajs.js";
 * const kafka = new Kafka({ brokers: ["127.0.0.1:9092"], logLevel: logLevel.NOTHING });
 *
 * @module
 */
import type * as KafkaJS from "kafkajs";
import { RivuletError } from "../../core/index.js";

async function load(): Promise<typeof KafkaJS> {
  let ns: typeof KafkaJS & { default?: typeof KafkaJS };
  try {
    ns = await import("kafkajs");
  } catch (e) {
    // Only kafkajs itself missing means "install it"; a broken install keeps its own error.
    const missing =
      (e as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && /["']kafkajs["']/.test(String(e));
    if (!missing) throw e;
    const message = 'rivulet/node needs the package "kafkajs": npm install kafkajs';
    throw new RivuletError("INVALID_ARGUMENT", message, { cause: e });
  }
  // KafkaJS is CommonJS: its module.exports is the default export.
  return ns.default ?? ns;
}

const kafkajs = await load();

export const { AssignerProtocol, Kafka, logLevel, Partitioners } = kafkajs;
export type Kafka = KafkaJS.Kafka;
export type logLevel = KafkaJS.logLevel;
