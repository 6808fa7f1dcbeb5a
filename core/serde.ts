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
  if (typeof raw === "string") return parse(raw);
  if (raw instanceof Uint8Array) {
    let text: string;
    try {
      text = decoder.decode(raw);
    } catch (e) {
      throw new TypeError("value is not valid UTF-8", { cause: e });
    }
    return parse(text);
  }
  if (raw === undefined) throw new TypeError("record has no value");
  return raw;
}

/**
 * `JSON.parse`, failing with the same words on every runtime (the engine's own, which differ
 * between V8 versions, are the error's cause: dead letters carry them as a detail).
 */
function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError("value is not valid JSON", { cause: e });
  }
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
