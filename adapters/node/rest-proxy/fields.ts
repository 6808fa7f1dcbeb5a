/**
 * Reading the fields of a request body: each helper returns the typed value or throws a 422
 * (Confluent's constraint violation) that names the field, e.g. `offsets[2].partition must be
 * an integer from 0`. Nothing is written before a whole request has been read this way.
 *
 * @example
 * const body = object(await jsonBody(c), "the request body");
 * const offsets = list(body.offsets, "offsets").map((o, i) => int(object(o, `offsets[${i}]`).offset, `offsets[${i}].offset`));
 *
 * @module
 */
import { topicNameProblem } from "../../../core/index.js";
import { proxyErrors } from "./errors.js";

export function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw proxyErrors.unprocessable(`${path} must be a JSON object`);
  return v as Record<string, unknown>;
}

export function list(v: unknown, path: string, { nonEmpty = false } = {}): unknown[] {
  if (v === undefined || v === null)
    throw proxyErrors.unprocessable(`${path} ${nonEmpty ? "may not be empty" : "is required"}`);
  if (!Array.isArray(v)) throw proxyErrors.unprocessable(`${path} must be a JSON array`);
  if (nonEmpty && v.length === 0) throw proxyErrors.unprocessable(`${path} may not be empty`);
  return v;
}

export function string(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "")
    throw proxyErrors.unprocessable(`${path} must be a non-empty string`);
  return v;
}

export function int(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
    throw proxyErrors.unprocessable(
      `${path} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""}`,
    );
  return v;
}

/** A topic name Kafka accepts (400, Kafka's InvalidTopicException, otherwise). */
export function topicName(v: unknown, path: string): string {
  const name = string(v, path);
  const problem = topicNameProblem(name);
  if (problem) throw proxyErrors.invalidTopic(problem);
  return name;
}

/** `{ topic, partition }` entries, as the v2 API lists partitions. */
export function topicPartitions(v: unknown, path: string): { topic: string; partition: number }[] {
  return list(v, path).map((item, i) => {
    const o = object(item, `${path}[${i}]`);
    return {
      topic: topicName(o.topic, `${path}[${i}].topic`),
      partition: int(o.partition, `${path}[${i}].partition`, 0, 2 ** 31 - 1),
    };
  });
}
