import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  isRivuletError,
  type OutgoingRecord,
  type Pipeline,
  prometheusText,
  RivuletError,
  run,
  topicNameProblem,
} from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { authMiddleware, type EdgeAuth, errorBody } from "./auth.js";
import type { EdgeJobOptions, JobRunner } from "./job-runner.js";
import { deadLetter, type Invalid, outgoing, type PushedRecord, parseBody, recordProblem } from "./push.js";
import { clientOf, type EdgeRateLimit, TokenBuckets } from "./rate-limit.js";
import { RestProxyBroker, type RestProxyBrokerOptions } from "./rest-proxy-broker.js";

/** Where an app's pull, state and metrics requests go: a job runner in this isolate, or a Durable Object. */
export type JobTarget = { runner: JobRunner } | { object: DurableObjectStubLike };

/** The part of a Durable Object stub the app uses. */
export interface DurableObjectStubLike {
  fetch(request: Request): Promise<Response>;
}

/** What an edge app does; every field may depend on the request's bindings (`env`). */
export interface EdgeConfig {
  /** How clients authenticate (required: say `"none"` to run without). */
  auth: EdgeAuth;
  /** The Kafka REST proxy pushed records are written through. */
  proxy: RestProxyBrokerOptions;
  /** Topics clients may push to (default: none; push is off). */
  topics?: readonly string[];
  /** Largest request body (bytes, default 1 MiB). */
  bodyLimit?: number;
  /** CORS for browser clients; off unless given. */
  cors?: { origin: string | readonly string[] };
  /**
   * Requests per client (its address as the platform gives it), per isolate: beyond it, 429 with
   * `Retry-After`; checked before authentication, so guessing tokens is slowed too. Off unless
   * given (see {@link EdgeRateLimit}).
   */
  rateLimit?: EdgeRateLimit;
  push?: {
    /** A malformed record refuses the whole request (`reject`, default) or goes to the dead-letter topic. */
    onInvalid?: "reject" | "dead-letter";
    /** Default `rivulet-dlq`. */
    deadLetterTopic?: string;
    /** Records without a timestamp: refused (default) or stamped with the proxy's clock (`false`). */
    requireTimestamp?: boolean;
    /**
     * Pre-aggregation: the pushed records go through this pipeline at the edge first (its source
     * topic is the pushed topic), and its outputs are written instead of the records.
     */
    pipeline?: Pipeline;
  };
  /** Where pull (`POST /run`), `GET /state/:key` and `GET /metrics` go; without it they answer 404. */
  job?: JobTarget;
}

/** An edge app: a Hono app, plus what a Cloudflare module worker exports. */
export interface EdgeApp<Env extends object> {
  readonly hono: Hono<{ Bindings: Env }>;
  fetch(request: Request, env?: Env, ctx?: ExecutionContextLike): Response | Promise<Response>;
  /** A cron trigger's handler: one pull. */
  scheduled(event: unknown, env: Env, ctx: ExecutionContextLike): Promise<void>;
}

export interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
}

const JSON_TYPES = new Set(["application/json"]);
const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

/**
 * A Hono app in front of a Rivulet job on an edge runtime:
 * - `POST /topics/:topic`: records from clients (browser beacons, webhooks), a JSON array or
 *   NDJSON, checked, then written to Kafka through the REST proxy (or through `push.pipeline`
 *   first); the answer says how many were accepted; a malformed record is refused with its
 *   index, or dead-lettered, never dropped. With an `Idempotency-Key` header, record i gets the
 *   id `push:<key>:<i>` (header `rivulet.id`), so a client's retry is a recognisable repeat.
 * - `POST /run` (and `scheduled`): one bounded pull: read through the proxy, run the pipeline,
 *   write, checkpoint.
 * - `GET /health`, `GET /metrics` (Prometheus text), `GET /state/:key` (interactive query).
 * Bearer or HMAC auth on everything but `/health`, a body limit, secure headers, CORS off by
 * default, errors as JSON `{ error: { code, message } }` and never a stack trace.
 *
 * @example
 * const app = edgeApp<Env>((env) => ({
 *   auth: { token: env.API_TOKEN },
 *   proxy: { url: env.KAFKA_REST_URL, token: env.KAFKA_REST_TOKEN },
 *   topics: ["clicks"],
 *   job: { object: env.JOBS.get(env.JOBS.idFromName("clicks-per-minute")) },
 * }));
 * export default app;
 */
export function edgeApp<Env extends object = Record<string, unknown>>(
  config: (env: Env) => EdgeConfig,
): EdgeApp<Env> {
  const hono = new Hono<{ Bindings: Env; Variables: { config: EdgeConfig } }>();
  // Per request: bindings hold I/O objects (a Durable Object stub) that workerd ties to the
  // request that made them.
  const configOf = (env: Env | undefined): EdgeConfig => config((env ?? {}) as Env);
  hono.use("*", secureHeaders());
  hono.use("*", async (c, next) => {
    c.set("config", configOf(c.env));
    const origin = c.get("config").cors?.origin;
    if (origin !== undefined)
      return cors({ origin: typeof origin === "string" ? origin : [...origin] })(c, next);
    await next();
  });
  hono.get("/health", (c) => c.json({ status: "ok" }));
  const limiters = new Map<string, TokenBuckets>();
  hono.use("*", async (c, next) => {
    const limit = c.get("config").rateLimit;
    if (limit === undefined) return next();
    const id = `${limit.requestsPerSecond}/${limit.burst}`;
    let buckets = limiters.get(id);
    if (!buckets) {
      try {
        buckets = new TokenBuckets(limit);
      } catch (e) {
        return c.json(errorBody("MISCONFIGURED", (e as Error).message), 500);
      }
      if (limiters.size > 16) limiters.clear();
      limiters.set(id, buckets);
    }
    const wait = buckets.take(clientOf(c.req.raw.headers));
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return c.json(errorBody("TOO_MANY_REQUESTS", `too many requests: try again in ${wait} s`), 429);
    }
    await next();
  });
  hono.use("*", async (c, next) =>
    bodyLimit({
      maxSize: c.get("config").bodyLimit ?? 1024 * 1024,
      onError: (cx) => cx.json(errorBody("BODY_TOO_LARGE", "the request body is larger than the limit"), 413),
    })(c, next),
  );
  const guards = new Map<string, MiddlewareHandler>();
  hono.use("*", async (c, next) => {
    const auth = c.get("config").auth;
    const id = JSON.stringify(auth);
    let guard = guards.get(id);
    if (!guard) {
      try {
        guard = authMiddleware(auth);
      } catch (e) {
        return c.json(errorBody("MISCONFIGURED", (e as Error).message), 500);
      }
      if (guards.size > 16) guards.clear();
      guards.set(id, guard);
    }
    return guard(c, next);
  });

  hono.post("/topics/:topic", async (c) => {
    const cfg = c.get("config");
    const topic = c.req.param("topic");
    const problem = topicNameProblem(topic);
    if (problem) return c.json(errorBody("INVALID_TOPIC", problem), 400);
    if (!cfg.topics?.includes(topic))
      return c.json(errorBody("UNKNOWN_TOPIC", `"${topic}" is not a topic this app takes records for`), 404);
    const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const ndjson = NDJSON_TYPES.has(type);
    if (!ndjson && !JSON_TYPES.has(type))
      return c.json(
        errorBody(
          "UNSUPPORTED_MEDIA_TYPE",
          "send application/json (an array of records) or application/x-ndjson",
        ),
        415,
      );
    const parsed = parseBody(await c.req.text(), ndjson);
    if (typeof parsed === "string") return c.json(errorBody("INVALID_BODY", parsed), 400);
    const requireTimestamp = cfg.push?.requireTimestamp ?? true;
    const invalid: Invalid[] = [...parsed.unparsed];
    const good: PushedRecord[] = [];
    const goodIndex: number[] = [];
    parsed.items.forEach((item, index) => {
      if (parsed.unparsed.some((u) => u.index === index)) return;
      const reason = recordProblem(item, requireTimestamp);
      if (reason) invalid.push({ index, reason, raw: item });
      else {
        good.push(item as PushedRecord);
        goodIndex.push(index);
      }
    });
    invalid.sort((a, b) => a.index - b.index);
    const onInvalid = cfg.push?.onInvalid ?? "reject";
    if (invalid.length > 0 && onInvalid === "reject") {
      const first = invalid[0]!;
      return c.json(
        {
          error: {
            code: "INVALID_RECORD",
            message: `record ${first.index}: ${first.reason} (nothing was written)`,
            index: first.index,
            invalid: invalid.map(({ index, reason }) => ({ index, reason })),
          },
        },
        400,
      );
    }
    const key = c.req.header("idempotency-key");
    if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key))
      return c.json(
        errorBody("INVALID_HEADER", "Idempotency-Key must be 1-200 visible ASCII characters"),
        400,
      );
    let records: OutgoingRecord[] = good.map((r, i) =>
      outgoing(topic, r, key === undefined ? undefined : `push:${key}:${goodIndex[i]}`),
    );
    if (cfg.push?.pipeline) records = await preAggregate(cfg.push.pipeline, topic, records);
    const dlq = cfg.push?.deadLetterTopic ?? "rivulet-dlq";
    for (const bad of invalid) records.push(deadLetter(topic, dlq, bad, Date.now()));
    const broker = new RestProxyBroker(cfg.proxy);
    if (records.length > 0) await broker.commit({ records });
    return c.json({ accepted: good.length, deadLettered: invalid.length, written: records.length });
  });

  hono.post("/run", async (c) => {
    const job = c.get("config").job;
    if (!job) return c.json(errorBody("NO_JOB", "this app runs no job"), 404);
    if ("object" in job) return forward(job.object, c.req.raw);
    const limits = await limitsOf(c.req.raw);
    return c.json(await job.runner.step(limits));
  });

  hono.get("/state/:key", async (c) => {
    const job = c.get("config").job;
    if (!job) return c.json(errorBody("NO_JOB", "this app runs no job"), 404);
    if ("object" in job) return forward(job.object, c.req.raw);
    const key = c.req.param("key");
    const found = await job.runner.query(key);
    if (Object.keys(found).length === 0)
      return c.json(errorBody("NOT_FOUND", `no state for key ${JSON.stringify(key)}`), 404);
    return c.json({ key, state: found });
  });

  hono.get("/metrics", async (c) => {
    const job = c.get("config").job;
    if (!job) return c.json(errorBody("NO_JOB", "this app runs no job"), 404);
    if ("object" in job) return forward(job.object, c.req.raw);
    const m = job.runner.metrics();
    if (!m) return c.text("# no step has run yet\n", 200, { "content-type": "text/plain; version=0.0.4" });
    return c.text(prometheusText(m), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  hono.notFound((c) =>
    c.json(errorBody("NOT_FOUND", `${c.req.method} ${new URL(c.req.url).pathname} is not a route`), 404),
  );
  hono.onError((e, c) => {
    if (e instanceof HTTPException) {
      const r = e.getResponse();
      return r.status === 401 || r.headers.get("content-type")?.includes("json")
        ? r
        : c.json(errorBody("HTTP_ERROR", e.message || r.statusText), r.status as ContentfulStatusCode);
    }
    const { status, code } = statusOf(e);
    // The client gets a code and a message; the operator's log gets what went wrong.
    if (status >= 500) console.error(`rivulet edge: ${c.req.method} ${new URL(c.req.url).pathname}:`, e);
    const message = isRivuletError(e) ? e.message : "internal error";
    if (status === 503) c.header("Retry-After", "1");
    return c.json(errorBody(code, message), status);
  });

  return {
    hono: hono as unknown as Hono<{ Bindings: Env }>,
    fetch: (request, env, ctx) => hono.fetch(request, env, ctx as never),
    async scheduled(_event, env, ctx) {
      const job = configOf(env).job;
      if (!job) return;
      const step =
        "object" in job
          ? job.object.fetch(new Request("https://rivulet.internal/run", { method: "POST" })).then(() => {})
          : job.runner.step().then(() => {});
      ctx.waitUntil(step);
      await step;
    },
  };
}

/** A request handed to the job's Durable Object; its answer copied (a stub's headers are immutable). */
async function forward(object: DurableObjectStubLike, req: Request): Promise<Response> {
  const res = await object.fetch(req);
  return new Response(res.body, res);
}

/** `POST /run`'s optional JSON body `{ maxMs?, maxRecords? }`. */
export async function limitsOf(req: Request): Promise<{ maxMs?: number; maxRecords?: number }> {
  const text = await req.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RivuletError("INVALID_ARGUMENT", "the body of POST /run must be JSON { maxMs?, maxRecords? }");
  }
  const out: { maxMs?: number; maxRecords?: number } = {};
  for (const k of ["maxMs", "maxRecords"] as const) {
    const v = (body as Record<string, unknown> | null)?.[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v >= 0))
      throw new RivuletError("INVALID_ARGUMENT", `${k} must be a non-negative number`);
    out[k] = v;
  }
  return out;
}

/** An error's HTTP status and code: the caller's fault is a 4xx, a transient one a 503. */
export function statusOf(e: unknown): { status: ContentfulStatusCode; code: string } {
  if (!isRivuletError(e)) return { status: 500, code: "INTERNAL" };
  if (e.code === "INVALID_ARGUMENT" || e.code === "INVALID_PIPELINE") return { status: 400, code: e.code };
  if (e.code === "UNKNOWN_TOPIC") return { status: 404, code: e.code };
  if (e.retriable) return { status: 503, code: e.code };
  return { status: 500, code: e.code };
}

/** Runs the pushed records through a pipeline in memory: its outputs are what gets written. */
async function preAggregate(
  pipeline: Pipeline,
  topic: string,
  records: OutgoingRecord[],
): Promise<OutgoingRecord[]> {
  const broker = new MemoryBroker();
  await broker.createTopic(topic);
  await broker.produce(topic, records);
  const job = await run(pipeline, { broker, manual: true, group: "push" });
  await job.drain();
  const out: OutgoingRecord[] = [];
  for (const t of broker.listTopics())
    if (t !== topic)
      for (const r of await broker.records(t))
        out.push({ topic: t, key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });
  return out;
}

export type { EdgeJobOptions };
