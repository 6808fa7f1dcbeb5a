/**
 * `restProxy(options)`: a Kafka REST proxy speaking Confluent's REST Proxy v2 API, as a Hono app
 * over KafkaJS. Bearer-token auth, a body limit, a per-client rate limit and consumer instance
 * expiry come with it; `close()` closes every consumer instance and Kafka client.
 *
 * @module
 */
import type { Hono } from "hono";
import type { KafkaConfig } from "kafkajs";
import { RivuletError } from "../../../core/index.js";
import { bearer, checkTokens, clientKey } from "./auth.js";
import { consumerRoutes } from "./consumer-routes.js";
import { kafkaError, ProxyError, proxyErrors } from "./errors.js";
import { honoParts } from "./hono.js";
import { errorResponse } from "./http.js";
import { Instances } from "./instances.js";
import { KafkaClients, type ProxyLogLevel } from "./kafka-clients.js";
import { Metadata } from "./metadata.js";
import { type RateLimitOptions, rateLimit } from "./rate-limit.js";
import { topicRoutes } from "./topic-routes.js";

export interface RestProxyOptions {
  /** Kafka bootstrap servers, `host:port` (or give `kafka` instead). */
  brokers?: readonly string[];
  /** A whole KafkaJS config (SSL, SASL, ...) instead of `brokers`. */
  kafka?: KafkaConfig;
  /** SASL authentication to Kafka, with `brokers` (e.g. `{ mechanism: "scram-sha-256", username, password }`). */
  sasl?: KafkaConfig["sasl"];
  /** TLS to Kafka, with `brokers`: `true` (the system's CAs) or Node's TLS options (`ca`, `cert`, `key`). */
  ssl?: KafkaConfig["ssl"];
  /** The bearer token clients must send; with none (and no `tokens`), no auth (local use). */
  token?: string;
  /** Several accepted bearer tokens (e.g. while rotating one). */
  tokens?: readonly string[];
  /**
   * Origins whose pages may call the proxy from a browser (CORS, e.g. `["https://app.example.com"]`);
   * default none: browsers keep other sites' pages from reading its answers. Preflight requests
   * are answered before auth and rate limits (they carry no token).
   */
  corsOrigins?: readonly string[];
  /** Largest request body in bytes (default 8 MiB); larger is a 413. */
  bodyLimit?: number;
  /** Requests per client (its token, else its address), or `false` for none (default 200/s, bursts of 400). */
  rateLimit?: RateLimitOptions | false;
  /** Consumer instances idle longer than this (ms) are closed (default 300 000, Confluent's). */
  instanceTimeout?: number;
  /** Base URL in `base_uri` (default: the origin each request was made to). */
  baseUrl?: string;
  /** Kafka client id (default `rivulet-rest-proxy`). */
  clientId?: string;
  /** KafkaJS log level (default `warn`). */
  logLevel?: ProxyLogLevel;
  /**
   * The client that writes produce requests: `kafkajs`, or `platformatic` (@platformatic/kafka,
   * an optional peer dependency; with `brokers`), which spends a fraction of KafkaJS's CPU time
   * encoding them. Default: the environment variable `RIVULET_KAFKA_PRODUCER` if set, else `kafkajs`.
   */
  producer?: "kafkajs" | "platformatic";
  /** How long `GET .../records` waits for data when neither request nor instance says (ms, default 1000). */
  fetchTimeout?: number;
  /** Longest any fetch waits (ms, default 30 000). */
  maxFetchWait?: number;
  /** Largest response of `GET .../records`, in bytes of keys and values (default 64 MiB). */
  maxResponseBytes?: number;
  /** Fetched bytes a consumer instance holds before it pauses fetching (default 16 MiB). */
  instanceBufferBytes?: number;
}

/** A REST proxy: a Hono app (serve its `fetch`), plus `close()` and `ready()`. */
export type RestProxy = Hono & {
  /** Closes every consumer instance (leaving their groups) and the Kafka clients. */
  close(): Promise<void>;
  /** Resolves once Kafka answers (fails with a clear error when it cannot be reached). */
  ready(): Promise<void>;
};

/** Origins as a browser sends them: scheme, host and port, no path (`*` is refused: name them). */
function checkOrigins(origins: readonly string[]): readonly string[] {
  if (!Array.isArray(origins))
    throw new RivuletError("INVALID_ARGUMENT", "restProxy: corsOrigins must be an array of origins");
  for (const o of origins)
    if (typeof o !== "string" || !/^https?:\/\/[^/\s]+$/.test(o))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `restProxy: corsOrigins: "${o}" is not an origin (scheme://host[:port], no path; "*" is not accepted)`,
      );
  return origins;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw new RivuletError("INVALID_ARGUMENT", `restProxy: ${name} must be a positive number, got ${v}`);
  return v;
}

/**
 * A Kafka REST proxy (Confluent's v2 API) over KafkaJS, as a Hono app.
 *
 * Routes: `GET /`, `GET /topics`, `GET /topics/{t}`, `POST /topics/{t}` (produce),
 * `GET /topics/{t}/partitions[/{p}[/offsets]]`, `POST /topics/{t}/partitions/{p}`, `GET /brokers`,
 * `POST /consumers/{group}`, and under `/consumers/{group}/instances/{name}`: `DELETE`,
 * `POST|GET|DELETE /subscription`, `POST|GET /assignments`, `POST /positions[/beginning|/end]`,
 * `GET /records`, `POST|GET /offsets`. Extensions of v2: record `headers` and `timestamp`, and
 * offset `metadata` kept through commits.
 *
 * @example
 * import { restProxy } from "rivulet/node";
 * import { serve } from "@hono/node-server";
 * const proxy = restProxy({ brokers: ["127.0.0.1:9092"], token: process.env.PROXY_TOKEN });
 * serve({ fetch: proxy.fetch, port: 8082, hostname: "127.0.0.1" });
 * // ... later
 * await proxy.close();
 */
export function restProxy(options: RestProxyOptions): RestProxy {
  const { Hono: HonoApp, bodyLimit, cors } = honoParts();
  if (!options || typeof options !== "object")
    throw new RivuletError("INVALID_ARGUMENT", "restProxy needs options: { brokers: ['host:port'] }");
  const tokens = checkTokens([
    ...(options.token === undefined ? [] : [options.token]),
    ...(options.tokens ?? []),
  ]);
  const limit = positive("bodyLimit", options.bodyLimit, 8 * 1024 * 1024);
  const fetchTimeout = positive("fetchTimeout", options.fetchTimeout, 1_000);
  const maxFetchWait = positive("maxFetchWait", options.maxFetchWait, 30_000);
  const clientOptions: ConstructorParameters<typeof KafkaClients>[0] = {};
  if (options.brokers !== undefined) clientOptions.brokers = options.brokers;
  if (options.kafka !== undefined) clientOptions.kafka = options.kafka;
  if (options.sasl !== undefined) clientOptions.sasl = options.sasl;
  if (options.ssl !== undefined) clientOptions.ssl = options.ssl;
  if (options.clientId !== undefined) clientOptions.clientId = options.clientId;
  if (options.logLevel !== undefined) clientOptions.logLevel = options.logLevel;
  if (options.producer !== undefined) clientOptions.producer = options.producer;
  const clients = new KafkaClients(clientOptions);
  const metadata = new Metadata(clients);
  const instances = new Instances(positive("instanceTimeout", options.instanceTimeout, 300_000));

  const app = new HonoApp();
  app.onError((err) => {
    if (err instanceof ProxyError) return errorResponse(err);
    const res = (err as { getResponse?: () => Response }).getResponse?.(); // Hono's HTTPException
    if (res) return res;
    if ((err as { _tag?: unknown })._tag === "RivuletError") return errorResponse(kafkaError("Kafka", err));
    process.stderr.write(`rivulet proxy: unexpected error: ${(err as Error)?.stack ?? err}\n`);
    return errorResponse(proxyErrors.internal());
  });
  app.notFound((c) => errorResponse(proxyErrors.notFound(`${c.req.method} ${c.req.path}`)));

  const origins = checkOrigins(options.corsOrigins ?? []);
  if (origins.length > 0)
    app.use(
      cors({
        origin: [...origins],
        allowMethods: ["GET", "POST", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type", "Accept"],
        exposeHeaders: ["Retry-After"],
        maxAge: 600,
      }),
    );
  if (options.rateLimit !== false) {
    const rl = options.rateLimit ?? { requestsPerSecond: 200, burst: 400 };
    app.use(rateLimit(rl, clientKey(tokens)));
  }
  if (tokens.length > 0) app.use(bearer(tokens));
  app.use(bodyLimit({ maxSize: limit, onError: () => errorResponse(proxyErrors.tooLarge(limit)) }));

  topicRoutes(app, { clients, metadata });
  consumerRoutes(app, {
    clients,
    metadata,
    instances,
    options: {
      baseUrl: options.baseUrl?.replace(/\/+$/, ""),
      fetchTimeout,
      maxFetchWait,
      maxResponseBytes: positive("maxResponseBytes", options.maxResponseBytes, 64 * 1024 * 1024),
      instanceBufferBytes: positive("instanceBufferBytes", options.instanceBufferBytes, 16 * 1024 * 1024),
      bodyLimit: limit,
    },
  });

  let closing: Promise<void> | undefined;
  return Object.assign(app, {
    close: () =>
      (closing ??= (async () => {
        await instances.close();
        await clients.close();
      })()),
    ready: async () => {
      try {
        await metadata.brokers();
      } catch (e) {
        throw new RivuletError(
          "BROKER",
          `the REST proxy cannot reach Kafka at ${clients.where}: ${(e as Error).message}`,
          {
            cause: e,
            retriable: true,
          },
        );
      }
    },
  });
}
