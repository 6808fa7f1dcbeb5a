/**
 * How values cross the boundary between a broker and a pipeline. A source's `value` defaults
 * to {@link json}: bytes and strings are parsed, values that are already decoded (in-memory
 * topics, browsers) pass through unchanged.
 */
export interface Serde<T> {
  /** Turns what the broker holds into a value; throwing sends the record to the dead-letter topic. */
  deserialize(raw: unknown): T;
  /** Turns a value into what the broker stores (bytes, a string, or the value itself in memory). */
  serialize(value: T): unknown;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * JSON. Strings and bytes are parsed; anything else is taken as already decoded.
 *
 * @example
 * Pipeline.source<Click>("clicks", { value: json<Click>() })
 */
export function json<T = unknown>(): Serde<T> {
  return { deserialize: jsonDeserialize as (raw: unknown) => T, serialize: jsonSerialize };
}

/**
 * The deserializer of every {@link json} serde: one function, so the executor can recognise it
 * and let already-decoded values (objects other than bytes) through without a call.
 */
export function jsonDeserialize(raw: unknown): unknown {
  if (typeof raw === "string") return JSON.parse(raw);
  if (raw instanceof Uint8Array) return JSON.parse(decoder.decode(raw));
  if (raw === undefined) throw new TypeError("record has no value");
  return raw;
}

const jsonSerialize = (value: unknown) => JSON.stringify(value);

/**
 * UTF-8 text, kept as a string.
 *
 * @example
 * Pipeline.source<string>("lines", { value: text() })
 */
export function text(): Serde<string> {
  return {
    deserialize(raw: unknown): string {
      if (typeof raw === "string") return raw;
      if (raw instanceof Uint8Array) return decoder.decode(raw);
      throw new TypeError(`expected text, got ${raw === null ? "null" : typeof raw}`);
    },
    serialize: (value: string) => value,
  };
}

/**
 * Bytes, untouched.
 *
 * @example
 * Pipeline.source<Uint8Array>("blobs", { value: bytes() })
 */
export function bytes(): Serde<Uint8Array> {
  return {
    deserialize(raw: unknown): Uint8Array {
      if (raw instanceof Uint8Array) return raw;
      if (typeof raw === "string") return encoder.encode(raw);
      throw new TypeError(`expected bytes, got ${raw === null ? "null" : typeof raw}`);
    },
    serialize: (value: Uint8Array) => value,
  };
}
