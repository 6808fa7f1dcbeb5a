// An edge worker (Cloudflare Workers / workerd) around the clicks-per-minute job: clients push
// clicks over HTTP, a Durable Object per consumer group pulls them through a Kafka REST proxy,
// counts them per user and minute, and writes the counts back; a cron trigger (and the object's
// own alarm) keeps it pulling. Deploy with `npx wrangler deploy` (wrangler.toml beside it).
import { edgeApp, jobObject } from "rivulet/edge";
import { type ClickTopics, DEFAULT_TOPICS, perMinute } from "./pipeline.js";

/** The part of a Durable Object namespace binding the worker uses. */
interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

export interface Env {
  /** The Kafka REST proxy, e.g. `npx rivulet proxy --brokers ...` next to the cluster. */
  KAFKA_REST_URL: string;
  KAFKA_REST_TOKEN?: string;
  /** The token clients send (`Authorization: Bearer ...`): `wrangler secret put API_TOKEN`. */
  API_TOKEN: string;
  CLICKS_JOB: Namespace;
  /** Topic names, when not the defaults (a JSON object like DEFAULT_TOPICS). */
  TOPICS?: string;
  GROUP?: string;
}

const topicsOf = (env: Env): ClickTopics => ({
  ...DEFAULT_TOPICS,
  ...(env.TOPICS ? JSON.parse(env.TOPICS) : {}),
});
const proxyOf = (env: Env) => ({
  url: env.KAFKA_REST_URL,
  ...(env.KAFKA_REST_TOKEN ? { token: env.KAFKA_REST_TOKEN } : {}),
});
const groupOf = (env: Env) => env.GROUP ?? "clicks-per-minute";

export const ClicksJob = jobObject<Env>(
  (env) => perMinute(topicsOf(env)),
  (env) => ({
    proxy: proxyOf(env),
    group: groupOf(env),
    step: { maxMs: 20_000 },
    // Each partition's output depends on that partition's order alone (Kafka Streams' model).
    run: { tasks: "per-partition" },
  }),
);

const app = edgeApp<Env>((env) => ({
  auth: { token: env.API_TOKEN },
  proxy: proxyOf(env),
  topics: [topicsOf(env).clicks],
  job: { object: env.CLICKS_JOB.get(env.CLICKS_JOB.idFromName(groupOf(env))) },
}));

export default { fetch: app.fetch, scheduled: app.scheduled };
