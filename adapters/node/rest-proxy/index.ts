/**
 * Rivulet's Kafka REST proxy: Confluent's REST Proxy v2 API as a Hono app over KafkaJS, for the
 * edge adapter and anything else that speaks HTTP. Needs the optional peers `hono` and
 * `@hono/node-server`.
 *
 * @example
 * import { serveRestProxy } from "rivulet/node";
 * const server = await serveRestProxy({ brokers: ["127.0.0.1:9092"], port: 8082, token: "s3cret" });
 *
 * @module
 */
export { type RestProxy, type RestProxyOptions, restProxy } from "./app.js";
export type { ProxyLogLevel } from "./kafka-clients.js";
export type { RateLimitOptions } from "./rate-limit.js";
export { type RestProxyServer, type ServeRestProxyOptions, serveRestProxy } from "./serve.js";
