/**
 * Rivulet on edge runtimes (Cloudflare Workers/workerd, Deno, Bun, Vercel/Netlify edge, Node):
 * Kafka through a Kafka REST proxy over `fetch`, nothing else; checkpoints in Durable Objects'
 * storage or any key-value storage with atomic writes.
 *
 * @example
 * import { edgeApp, jobObject } from "rivulet/edge";
 * export const ClicksJob = jobObject<Env>(perMinute, (env) => ({
 *   proxy: { url: env.KAFKA_REST_URL, token: env.KAFKA_REST_TOKEN },
 *   group: "clicks-per-minute",
 * }));
 * export default edgeApp<Env>((env) => ({
 *   auth: { token: env.API_TOKEN },
 *   proxy: { url: env.KAFKA_REST_URL, token: env.KAFKA_REST_TOKEN },
 *   topics: ["clicks"],
 *   job: { object: env.CLICKS_JOB.get(env.CLICKS_JOB.idFromName("clicks-per-minute")) },
 * }));
 *
 * @module
 */
export {
  type DurableObjectStubLike,
  type EdgeApp,
  type EdgeConfig,
  type ExecutionContextLike,
  edgeApp,
  type JobTarget,
} from "./app.js";
export { type EdgeAuth, signRequest } from "./auth.js";
export {
  type DurableObjectStateLike,
  type JobObject,
  type JobObjectOptions,
  jobObject,
} from "./durable-object.js";
export type { RestClientOptions } from "./http.js";
export { type EdgeJobOptions, JobRunner, type StepResult } from "./job-runner.js";
export {
  type DurableObjectStorageLike,
  durableObjectStorage,
  KeyValueStateStore,
  type KeyValueStateStoreOptions,
  type KeyValueStorage,
  memoryStorage,
} from "./kv-state-store.js";
export type { PushedRecord } from "./push.js";
export type { EdgeRateLimit } from "./rate-limit.js";
export { RestProxyBroker, type RestProxyBrokerOptions } from "./rest-proxy-broker.js";
