/**
 * Records in the v2 API's embedded formats, both ways.
 *
 * - `binary`: keys, values and header values are base64 strings of the bytes Kafka holds.
 * - `json`: keys and values are JSON documents, held in Kafka as their JSON text (a key "u1" is
 *   the 4 bytes `"u1"`, quotes included, as Confluent's proxy writes it); header values are
 *   strings, held as UTF-8.
 *
 * Rivulet's extensions of v2 (Confluent's v2 has neither): `headers`, a list of
 * `{ "name": string, "value": string | null }` per record (a name may repeat), and `timestamp`,
 * the record's time in ms since the epoch. Fetched records carry both (headers when they have
 * some).
 *
 * @example
 * const records = produceRecords(body, "binary"); // validated and decoded, or a 4xx
 * const wire = consumedRecord(topic, partition, message, "json");
 *
 * @module
 */
import type { KafkaMessage } from "kafkajs";
import { ProxyError, proxyErrors } from "./errors.js";
import { int, list, object, string } from "./fields.js";
import type { EmbeddedFormat } from "./http.js";

/** A record of a produce request, decoded and checked. */
export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  partition: number | undefined;
  headers: { name: string; value: Buffer | null }[];
  timestamp: number | undefined;
  /** Bytes in Kafka, roughly (key, value, headers and a record's overhead). */
  size: number;
}

/** A record as `GET .../records` returns it. */
export interface WireRecord {
  topic: string;
  key: unknown;
  value: unknown;
  partition: number;
  offset: number;
  timestamp: number;
  headers?: { name: string; value: string | null }[];
}

/** Base64 alphabet, padding only at the end (the length, a multiple of 4, is checked apart: linear). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const RECORD_OVERHEAD = 70;

function fromBase64(v: unknown, path: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") throw proxyErrors.badRequest(`${path} is not a base64 string`);
  if (v.length % 4 !== 0 || !BASE64.test(v))
    throw proxyErrors.badRequest(`${path} is not a valid base64 string`);
  return Buffer.from(v, "base64");
}

function fromJson(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.from(JSON.stringify(v), "utf8");
}

function headerValue(v: unknown, path: string, format: EmbeddedFormat): Buffer | null {
  if (v === null || v === undefined) return null;
  if (format === "binary") return fromBase64(v, path);
  if (typeof v !== "string") throw proxyErrors.unprocessable(`${path} must be a string or null`);
  return Buffer.from(v, "utf8");
}

/**
 * The records of a produce request, every one decoded and checked before any is written (a bad
 * record refuses the whole request). `pathPartition` is the partition of
 * `POST /topics/{t}/partitions/{p}`.
 */
export function produceRecords(
  body: unknown,
  format: EmbeddedFormat,
  pathPartition?: number,
): ProduceRecord[] {
  if (body === undefined) throw proxyErrors.unprocessable("Request body is empty. Data is required.");
  const records = list(object(body, "the request body").records, "records", { nonEmpty: true });
  return records.map((item, i): ProduceRecord => {
    const at = `records[${i}]`;
    const r = object(item, at);
    const key = format === "binary" ? fromBase64(r.key, `${at}.key`) : fromJson(r.key);
    const value = format === "binary" ? fromBase64(r.value, `${at}.value`) : fromJson(r.value);
    let partition: number | undefined;
    if (r.partition !== undefined && r.partition !== null) {
      partition = int(r.partition, `${at}.partition`, 0, 2 ** 31 - 1);
      if (pathPartition !== undefined && partition !== pathPartition)
        throw proxyErrors.unprocessable(
          `${at}.partition is ${partition}, but the request produces to partition ${pathPartition}`,
        );
    } else partition = pathPartition;
    const headers: ProduceRecord["headers"] = [];
    if (r.headers !== undefined && r.headers !== null) {
      if (!Array.isArray(r.headers))
        throw proxyErrors.unprocessable(`${at}.headers must be a list of { "name": ..., "value": ... }`);
      r.headers.forEach((h, j) => {
        const o = object(h, `${at}.headers[${j}]`);
        headers.push({
          name: string(o.name, `${at}.headers[${j}].name`),
          value: headerValue(o.value, `${at}.headers[${j}].value`, format),
        });
      });
    }
    const timestamp =
      r.timestamp === undefined || r.timestamp === null ? undefined : int(r.timestamp, `${at}.timestamp`);
    let size = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0);
    for (const h of headers) size += 8 + Buffer.byteLength(h.name) + (h.value?.length ?? 0);
    return { key, value, partition, headers, timestamp, size };
  });
}

/** Headers as KafkaJS takes them: repeated names as arrays, `__proto__` as any other name. */
export function kafkaHeaders(
  headers: ProduceRecord["headers"],
): Record<string, Buffer | Buffer[]> | undefined {
  if (headers.length === 0) return undefined;
  const out: Record<string, Buffer | Buffer[]> = Object.create(null);
  for (const { name, value } of headers) {
    const v = value as Buffer; // KafkaJS writes null as a null header value
    const prev = out[name];
    // No prototype: `__proto__` is an own property like any other name.
    out[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Bytes of a fetched record's key and value (what `max_bytes` counts, as Confluent's does). */
export function recordBytes(m: KafkaMessage): number {
  return (m.key?.length ?? 0) + (m.value?.length ?? 0);
}

function decodeJson(bytes: Buffer | null, what: string): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw proxyErrors.jsonConversion(
      `${what} is not JSON (${(e as Error).message}); read it with a binary consumer, or seek past it`,
    );
  }
}

/** A fetched record in the consumer's embedded format (42203 when a json consumer meets non-JSON). */
export function consumedRecord(
  topic: string,
  partition: number,
  m: KafkaMessage,
  format: EmbeddedFormat,
): WireRecord {
  const where = `${topic}[${partition}] offset ${m.offset}`;
  const out: WireRecord = {
    topic,
    key: format === "binary" ? (m.key?.toString("base64") ?? null) : decodeJson(m.key, `the key at ${where}`),
    value:
      format === "binary"
        ? (m.value?.toString("base64") ?? null)
        : decodeJson(m.value, `the value at ${where}`),
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
  };
  const headers: { name: string; value: string | null }[] = [];
  for (const [name, v] of Object.entries(m.headers ?? {}))
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === undefined) continue;
      const bytes = typeof one === "string" ? Buffer.from(one) : one;
      headers.push({
        name,
        value:
          bytes === null ? null : format === "binary" ? bytes.toString("base64") : bytes.toString("utf8"),
      });
    }
  if (headers.length > 0) out.headers = headers;
  return out;
}

export { ProxyError };
