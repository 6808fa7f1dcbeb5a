import type { Headers as RecordHeaders } from "../../core/index.js";
import { RivuletError } from "../../core/index.js";

/**
 * Records as the v2 API's binary embedded format carries them: keys, values and header values
 * base64-encoded, so the bytes in Kafka are exactly what `rivulet/node` writes (strings as UTF-8,
 * bytes as they are, anything else as JSON), whatever runtime wrote them.
 */
export interface WireRecord {
  key: string | null;
  value: string | null;
  partition?: number;
  /** Rivulet's extension (Confluent's v2 has no headers): header values base64-encoded. */
  headers?: { name: string; value: string | null }[];
}

/** A record as `GET .../records` returns it (binary format). */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  timestamp?: number;
  headers?: { name: string; value: string | null }[] | Record<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A value as the bytes Kafka holds: strings as UTF-8, bytes as they are, null a tombstone, else JSON. */
export function valueBytes(topic: string, value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new RivuletError("INVALID_ARGUMENT", `a value for topic "${topic}" cannot be written as JSON`, {
      cause: e,
    });
  }
  if (json === undefined)
    throw new RivuletError("INVALID_ARGUMENT", `a value for topic "${topic}" cannot be written as JSON`);
  return encoder.encode(json);
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 0x8000)));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b);

/** Headers as the wire's list. */
export function wireHeaders(h: RecordHeaders | undefined): WireRecord["headers"] {
  if (h === undefined) return undefined;
  const out = Object.entries(h).map(([name, value]) => ({ name, value: toBase64(utf8(value)) }));
  return out.length > 0 ? out : undefined;
}

/** Headers from the wire (a list, or an object of strings from a proxy that prefers it). */
export function recordHeaders(h: FetchedRecord["headers"]): RecordHeaders | undefined {
  if (h === undefined || h === null) return undefined;
  const out: RecordHeaders = {};
  if (Array.isArray(h)) {
    for (const { name, value } of h)
      if (value !== null && value !== undefined) setOwn(out, name, fromUtf8(fromBase64(value)));
  } else for (const [name, value] of Object.entries(h)) setOwn(out, name, String(value));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `__proto__` is a header name like any other. */
function setOwn(o: RecordHeaders, k: string, v: string): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
