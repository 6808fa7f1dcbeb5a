import { RivuletError } from "../errors.js";

/**
 * Bounds a job keeps to, so that bad or unexpected input meets a clear error or a dead-letter
 * reason instead of exhausting memory. Every bound is off unless set; a bound that is set costs
 * a size check where it applies (a record's bytes, a new key, a state write).
 *
 * - `maxRecordBytes`: a source record whose value is larger goes to the dead-letter topic
 *   (stage `limit`), as a malformed record does. Bytes as read (a string's UTF-8, a byte array's
 *   length; a value a broker hands over decoded is measured as JSON).
 * - `maxBatchBytes`: the records one poll hands to the pipeline stop at this many bytes (at least
 *   one record); the rest are read again by the next poll. Bounds the work, and the outputs
 *   held, between two commits.
 * - `maxKeysPerOperator`: a record that would give a keyed operator one key more than this (a
 *   window: keys in one window) goes to the dead-letter topic, the operator's state unchanged.
 * - `maxStateBytesPerKey`: a record that would make one key's state (a window's or a rolling
 *   aggregate's accumulator, a session's, a process function's value, list or map state) larger
 *   than this, as JSON, goes to the dead-letter topic; inside a process function the state write
 *   throws, which the function may catch.
 *
 * @example
 * await run(pipeline, { broker, onError: "dead-letter", limits: { maxRecordBytes: 1 << 20, maxKeysPerOperator: 1_000_000 } });
 */
export interface Limits {
  maxRecordBytes?: number;
  maxBatchBytes?: number;
  maxKeysPerOperator?: number;
  maxStateBytesPerKey?: number;
}

const NAMES = ["maxRecordBytes", "maxBatchBytes", "maxKeysPerOperator", "maxStateBytesPerKey"] as const;

/** Checks a `limits` option: known names, positive integers. */
export function checkLimits(limits: Limits | undefined): Limits {
  if (limits === undefined) return {};
  if (typeof limits !== "object" || limits === null)
    throw new RivuletError("INVALID_ARGUMENT", "run(..., { limits }) takes an object");
  for (const [k, v] of Object.entries(limits)) {
    if (!(NAMES as readonly string[]).includes(k))
      throw new RivuletError("INVALID_ARGUMENT", `limits.${k} is not a limit; there are ${NAMES.join(", ")}`);
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new RivuletError("INVALID_ARGUMENT", `limits.${k} must be a positive integer, not ${String(v)}`);
  }
  return { ...limits };
}

/** A bound was reached: the record at fault goes to the dead-letter topic with this reason. */
export class LimitError extends RivuletError {
  constructor(message: string) {
    super("LIMIT", message);
    this.name = "LimitError";
  }
}

/** UTF-8 bytes of a string, without encoding it. */
export function utf8Bytes(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

/** Bytes of a value as a broker holds it: bytes, text, or anything else as JSON. */
export function valueBytes(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === "string") return utf8Bytes(v);
  if (v instanceof Uint8Array) return v.byteLength;
  return jsonBytes(v);
}

/** Bytes of a value as JSON (what a checkpoint holds of it); unencodable values count as 0. */
export function jsonBytes(v: unknown): number {
  try {
    const s = JSON.stringify(v, (_k, x: unknown) =>
      x instanceof Map ? [...x] : x instanceof Set ? [...x] : x,
    );
    return s === undefined ? 0 : utf8Bytes(s);
  } catch {
    return 0;
  }
}

/** Checks the key count of an operator about to hold one key more. */
export function checkNewKey(limits: Limits, op: string, held: number): void {
  const max = limits.maxKeysPerOperator;
  if (max !== undefined && held >= max)
    throw new LimitError(`${op} holds ${held} keys already: limits.maxKeysPerOperator is ${max}`);
}

/** Checks the state one key would hold after a write. */
export function checkStateBytes(limits: Limits, op: string, state: unknown): void {
  const max = limits.maxStateBytesPerKey;
  if (max === undefined) return;
  const n = jsonBytes(state);
  if (n > max)
    throw new LimitError(
      `${op} would hold ${n} bytes of state for one key: limits.maxStateBytesPerKey is ${max}`,
    );
}
