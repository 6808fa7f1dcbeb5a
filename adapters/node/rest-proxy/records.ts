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
import { int, list, object } from "./fields.js";
import type { EmbeddedFormat } from "./http.js";

/** Headers as KafkaJS takes them: repeated names as arrays, `__proto__` as any other name (no prototype). */
export type KafkaHeaders = Record<string, Buffer | null | (Buffer | null)[]>;

/** A record of a produce request, decoded and checked. */
export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  partition: number | undefined;
  /** Undefined when it has none. */
  headers: KafkaHeaders | undefined;
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

/** `records[i]` and a field of it, for an error (made only then). */
const at = (i: number, field = "", j?: number, sub = "") =>
  `records[${i}]${field ? `.${field}` : ""}${j === undefined ? "" : `[${j}]`}${sub ? `.${sub}` : ""}`;

function fromBase64(v: unknown, where: () => string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") throw proxyErrors.badRequest(`${where()} is not a base64 string`);
  if (v.length % 4 !== 0 || !BASE64.test(v))
    throw proxyErrors.badRequest(`${where()} is not a valid base64 string`);
  return Buffer.from(v, "base64");
}

function fromJson(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.from(JSON.stringify(v), "utf8");
}

function headerValue(v: unknown, i: number, j: number, format: EmbeddedFormat): Buffer | null {
  if (v === null || v === undefined) return null;
  if (format === "binary") return fromBase64(v, () => at(i, "headers", j, "value"));
  if (typeof v !== "string")
    throw proxyErrors.unprocessable(`${at(i, "headers", j, "value")} must be a string or null`);
  return Buffer.from(v, "utf8");
}

/**
 * The records of a produce request, every one decoded and checked before any is written (a bad
 * record refuses the whole request). `pathPartition` is the partition of
 * `POST /topics/{t}/partitions/{p}`. One pass per record, headers straight into KafkaJS's shape;
 * the field paths of error messages are made only for an error.
 */
export function produceRecords(
  body: unknown,
  format: EmbeddedFormat,
  pathPartition?: number,
): ProduceRecord[] {
  if (body === undefined) throw proxyErrors.unprocessable("Request body is empty. Data is required.");
  const records = list(object(body, "the request body").records, "records", { nonEmpty: true });
  const out: ProduceRecord[] = new Array(records.length);
  let lastName = "";
  let lastNameBytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as Record<string, unknown>;
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw proxyErrors.unprocessable(`${at(i)} must be a JSON object`);
    const key = format === "binary" ? fromBase64(r.key, () => at(i, "key")) : fromJson(r.key);
    const value = format === "binary" ? fromBase64(r.value, () => at(i, "value")) : fromJson(r.value);
    let partition: number | undefined;
    if (r.partition !== undefined && r.partition !== null) {
      partition = int(r.partition, at(i, "partition"), 0, 2 ** 31 - 1);
      if (pathPartition !== undefined && partition !== pathPartition)
        throw proxyErrors.unprocessable(
          `${at(i, "partition")} is ${partition}, but the request produces to partition ${pathPartition}`,
        );
    } else partition = pathPartition;
    let size = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0);
    let headers: KafkaHeaders | undefined;
    const headerList = r.headers;
    if (headerList !== undefined && headerList !== null) {
      if (!Array.isArray(headerList))
        throw proxyErrors.unprocessable(
          `${at(i, "headers")} must be a list of { "name": ..., "value": ... }`,
        );
      for (let j = 0; j < headerList.length; j++) {
        const h = headerList[j] as Record<string, unknown>;
        if (typeof h !== "object" || h === null || Array.isArray(h))
          throw proxyErrors.unprocessable(`${at(i, "headers", j)} must be a JSON object`);
        const name = h.name;
        if (typeof name !== "string" || name === "")
          throw proxyErrors.unprocessable(`${at(i, "headers", j, "name")} must be a non-empty string`);
        const v = headerValue(h.value, i, j, format);
        // No prototype: `__proto__` is an own property like any other name.
        headers ??= Object.create(null) as KafkaHeaders;
        const prev = headers[name];
        // KafkaJS writes null as a null header value.
        headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        if (name !== lastName) {
          lastName = name;
          lastNameBytes = Buffer.byteLength(name);
        }
        size += 8 + lastNameBytes + (v?.length ?? 0);
      }
    }
    const timestamp =
      r.timestamp === undefined || r.timestamp === null ? undefined : int(r.timestamp, at(i, "timestamp"));
    out[i] = { key, value, partition, headers, timestamp, size };
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
