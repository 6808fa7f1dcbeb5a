/**
 * The v2 API's content types and bodies. Requests: `application/vnd.kafka.{binary,json}.v2+json`
 * for produce (embedded format binary or json), `application/vnd.kafka.v2+json` for the rest;
 * the less specific `application/vnd.kafka+json`, `application/json` and
 * `application/octet-stream` (or none) are taken too, as Confluent's reference allows, with the
 * binary embedded format where one matters. Responses: `application/vnd.kafka.v2+json`, and the
 * consumer's embedded type for records.
 *
 * @example
 * const format = produceFormat(c);         // "binary" | "json", or a 415
 * const body = await jsonBody(c);           // parsed JSON, or a 400 for malformed JSON
 * return reply(c, { offsets }, 200);
 *
 * @module
 */
import type { Context } from "hono";
import { ProxyError, proxyErrors } from "./errors.js";

export const V2 = "application/vnd.kafka.v2+json";

export type EmbeddedFormat = "binary" | "json";

/** Types without an embedded format: binary is assumed where one matters (Confluent's rule). */
const GENERIC = new Set([V2, "application/vnd.kafka+json", "application/json", "application/octet-stream"]);
const EMBEDDED = /^application\/vnd\.kafka\.([a-z]+)\.(v[0-9]+)\+json$/;
const SCHEMA_FORMATS = new Set(["avro", "jsonschema", "protobuf"]);

/** The media type of a header value, lower-case, without parameters. */
function mediaType(value: string | undefined): string | undefined {
  const t = value?.split(";")[0]?.trim().toLowerCase();
  return t === "" ? undefined : t;
}

/** The embedded format a produce request's Content-Type names; 415 for anything else. */
export function produceFormat(c: Context): EmbeddedFormat {
  const raw = c.req.header("content-type");
  const type = mediaType(raw);
  if (type === undefined || GENERIC.has(type)) return "binary";
  const m = EMBEDDED.exec(type);
  if (m && m[2] === "v2") {
    if (m[1] === "binary" || m[1] === "json") return m[1];
    if (SCHEMA_FORMATS.has(m[1]!))
      throw proxyErrors.unsupportedMediaType(
        `the ${m[1]} embedded format needs a schema registry, which this proxy has not: use binary or json`,
      );
  }
  if (m) throw proxyErrors.unsupportedMediaType(`"${raw}": this proxy serves the v2 API only`);
  throw proxyErrors.unsupportedMediaType(
    `"${raw}": produce with application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json`,
  );
}

/** Checks the Content-Type of a request that carries no records (415 when it is not JSON). */
export function checkRequestType(c: Context): void {
  const raw = c.req.header("content-type");
  const type = mediaType(raw);
  if (type === undefined || GENERIC.has(type)) return;
  const m = EMBEDDED.exec(type);
  if (m && m[2] === "v2") return;
  throw proxyErrors.unsupportedMediaType(`"${raw}": send application/vnd.kafka.v2+json`);
}

/**
 * The request body as JSON. An empty body is `undefined` (for requests where it is optional);
 * malformed JSON is a 400, as Confluent answers it.
 */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw proxyErrors.badRequest(`the request body is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The body of a GET request as JSON (v2's `GET .../offsets` carries one). The Fetch API has no
 * GET bodies, so it is read from Node's request (@hono/node-server's `incoming`); elsewhere a
 * GET has none. At most `limit` bytes (413 beyond).
 */
export async function getBody(c: Context, limit: number): Promise<unknown> {
  const incoming = (c.env as { incoming?: AsyncIterable<Buffer | string> } | undefined)?.incoming;
  if (!incoming) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) throw proxyErrors.tooLarge(limit);
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  checkRequestType(c);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw proxyErrors.badRequest(`the request body is not valid JSON (${(e as Error).message})`);
  }
}

/** Accepted media types of the request, most preferred first (q=0 ones left out). */
function accepted(c: Context): string[] | undefined {
  const header = c.req.header("accept");
  if (header === undefined || header.trim() === "") return undefined;
  return header
    .split(",")
    .map((part) => {
      const [type, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith("q="));
      return { type: type ?? "", q: q === undefined ? 1 : Number(q.slice(2)) };
    })
    .filter((t) => t.type !== "" && !(t.q <= 0))
    .sort((a, b) => b.q - a.q)
    .map((t) => t.type);
}

const ANY = new Set(["*/*", "application/*", ...GENERIC]);

/** 406 unless the client accepts a v2 JSON response. */
export function checkAccept(c: Context): void {
  const types = accepted(c);
  if (types === undefined) return;
  if (types.some((t) => ANY.has(t) || EMBEDDED.test(t))) return;
  throw proxyErrors.notAcceptable(c.req.header("accept") ?? "");
}

/**
 * 40601 when the Accept header asks for another embedded format than the consumer instance's
 * (a generic type, or none, is fine), 406 when it accepts no JSON at all.
 */
export function checkRecordsAccept(c: Context, format: EmbeddedFormat): void {
  const types = accepted(c);
  if (types === undefined || types.some((t) => ANY.has(t))) return;
  const embedded = types.flatMap((t) => EMBEDDED.exec(t)?.[1] ?? []);
  if (embedded.includes(format)) return;
  if (embedded.length > 0) throw proxyErrors.formatMismatch(format);
  throw proxyErrors.notAcceptable(c.req.header("accept") ?? "");
}

/** A JSON response with the v2 content type (or `type`). */
export function reply(c: Context, body: unknown, status = 200, type = V2): Response {
  return c.body(JSON.stringify(body), status as 200, { "content-type": type });
}

/** `204 No Content`. */
export function noContent(c: Context): Response {
  return c.body(null, 204);
}

/** The v2 error response of a {@link ProxyError}. */
export function errorResponse(e: ProxyError): Response {
  return new Response(JSON.stringify(e.body), {
    status: e.status,
    headers: { "content-type": V2, ...e.headers },
  });
}

export { ProxyError };
