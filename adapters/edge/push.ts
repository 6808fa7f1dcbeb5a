import type { OutgoingRecord, Headers as RecordHeaders } from "../../core/index.js";

/** A record as a client pushes it (a JSON array of these, or NDJSON: one per line). */
export interface PushedRecord {
  key?: string | null;
  value: unknown;
  /** Event time, epoch ms (required unless the app takes the proxy's clock). */
  timestamp?: number;
  headers?: Record<string, string>;
  partition?: number;
}

/** Why a pushed record was refused, and where it is. */
export interface Invalid {
  index: number;
  reason: string;
  /** The record as sent (its text when it was not JSON). */
  raw: unknown;
}

/**
 * Parses a pushed body: a JSON array of records, or NDJSON (one record per line, blank lines
 * ignored). A line that is not JSON is an invalid record, not a failed request, so that with
 * dead-lettering the rest still goes through.
 */
export function parseBody(text: string, ndjson: boolean): { items: unknown[]; unparsed: Invalid[] } | string {
  if (!ndjson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return `the body is not JSON: ${(e as Error).message}`;
    }
    if (!Array.isArray(parsed)) return "the body must be a JSON array of records (or NDJSON, one per line)";
    return { items: parsed, unparsed: [] };
  }
  const items: unknown[] = [];
  const unparsed: Invalid[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      items.push(JSON.parse(line));
    } catch (e) {
      unparsed.push({
        index: items.length + unparsed.length,
        reason: `not JSON: ${(e as Error).message}`,
        raw: line,
      });
      items.push(undefined);
    }
  }
  return { items, unparsed };
}

/** Checks one pushed record; returns why it is invalid, or undefined. */
export function recordProblem(r: unknown, requireTimestamp: boolean): string | undefined {
  if (typeof r !== "object" || r === null || Array.isArray(r))
    return "a record must be an object { key?, value, timestamp, headers? }";
  const rec = r as Record<string, unknown>;
  if (!Object.hasOwn(rec, "value") || rec.value === undefined) return "value is missing";
  if (rec.key !== undefined && rec.key !== null && typeof rec.key !== "string")
    return "key must be a string or null";
  if (rec.timestamp === undefined) {
    if (requireTimestamp) return "timestamp is missing (epoch milliseconds of the event)";
  } else if (typeof rec.timestamp !== "number" || !Number.isSafeInteger(rec.timestamp) || rec.timestamp < 0)
    return `timestamp must be a non-negative integer of epoch milliseconds, got ${JSON.stringify(rec.timestamp)}`;
  if (
    rec.partition !== undefined &&
    (typeof rec.partition !== "number" || !Number.isInteger(rec.partition) || rec.partition < 0)
  )
    return "partition must be a non-negative integer";
  if (rec.headers !== undefined) {
    if (typeof rec.headers !== "object" || rec.headers === null || Array.isArray(rec.headers))
      return "headers must be an object of strings";
    for (const [k, v] of Object.entries(rec.headers))
      if (typeof v !== "string") return `header ${JSON.stringify(k)} must be a string`;
  }
  return undefined;
}

/** A valid pushed record as a record to write. */
export function outgoing(topic: string, r: PushedRecord, id: string | undefined): OutgoingRecord {
  const out: OutgoingRecord = { topic, key: r.key ?? null, value: r.value };
  if (r.timestamp !== undefined) out.timestamp = r.timestamp;
  if (r.partition !== undefined) out.partition = r.partition;
  let headers: RecordHeaders | undefined;
  if (r.headers) headers = copyHeaders(r.headers);
  if (id !== undefined) (headers ??= {})["rivulet.id"] = id;
  if (headers) out.headers = headers;
  return out;
}

/** A refused record for the dead-letter topic: as sent, with the reason. */
export function deadLetter(
  topic: string,
  deadLetterTopic: string,
  bad: Invalid,
  now: number,
): OutgoingRecord {
  return {
    topic: deadLetterTopic,
    key: null,
    value: typeof bad.raw === "string" ? bad.raw : (JSON.stringify(bad.raw) ?? "undefined"),
    timestamp: now,
    headers: {
      "rivulet.error.stage": "push",
      "rivulet.error.reason": bad.reason,
      "rivulet.push.topic": topic,
      "rivulet.push.index": String(bad.index),
    },
  };
}

function copyHeaders(h: Record<string, string>): RecordHeaders {
  const out: RecordHeaders = {};
  for (const [k, v] of Object.entries(h))
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true });
  return out;
}
