/**
 * Rivulet on edge runtimes (Cloudflare Workers/workerd, Deno, Bun, Vercel/Netlify edge, Node):
 * Kafka through a Kafka REST proxy over `fetch`, nothing else.
 *
 * @example
 * import { run } from "rivulet";
 * import { RestProxyBroker } from "rivulet/edge";
 * const broker = new RestProxyBroker({ url: env.KAFKA_REST_URL, token: env.KAFKA_REST_TOKEN });
 * const job = await run(perMinute, { broker, state, group: "clicks-per-minute", manual: true });
 * await job.runFor({ maxMs: 20_000 });
 *
 * @module
 */
export type { RestClientOptions } from "./http.js";
export { RestProxyBroker, type RestProxyBrokerOptions } from "./rest-proxy-broker.js";
