/**
 * Snapshot encoding: JSON plus what JSON loses and state holds (Map, Set, undefined, NaN,
 * ±Infinity, -0, bigint, Uint8Array, Date). Special values become `{"$": tag, "v": ...}`; plain
 * objects that happen to have a "$" key are escaped the same way. Keys such as `__proto__`
 * stay own properties on the way back.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const tagged = (t: string, v: Json): Json => ({ $: t, v });

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__")
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function toJson(x: unknown): Json {
  switch (typeof x) {
    case "string":
    case "boolean":
      return x;
    case "number":
      if (Number.isNaN(x)) return tagged("n", "NaN");
      if (x === Number.POSITIVE_INFINITY) return tagged("n", "Infinity");
      if (x === Number.NEGATIVE_INFINITY) return tagged("n", "-Infinity");
      if (Object.is(x, -0)) return tagged("n", "-0");
      return x;
    case "undefined":
      return tagged("u", null);
    case "bigint":
      return tagged("b", x.toString());
    case "object": {
      if (x === null) return null;
      if (Array.isArray(x)) return x.map(toJson);
      if (x instanceof Map)
        return tagged(
          "m",
          [...x].map(([k, v]) => [toJson(k), toJson(v)]),
        );
      if (x instanceof Set) return tagged("s", [...x].map(toJson));
      if (x instanceof Date) return tagged("d", x.getTime());
      if (x instanceof Uint8Array) return tagged("y", Array.from(x));
      const out: Record<string, Json> = {};
      for (const k of Object.keys(x)) setOwn(out, k, toJson((x as Record<string, unknown>)[k]));
      return "$" in out ? tagged("o", out) : out;
    }
    default:
      throw new TypeError(`cannot snapshot a ${typeof x}`);
  }
}

function fromJson(j: Json): unknown {
  if (j === null || typeof j !== "object") return j;
  if (Array.isArray(j)) return j.map(fromJson);
  if ("$" in j) {
    const v = j.v as Json;
    switch (j.$) {
      case "n":
        return Number(v);
      case "u":
        return undefined;
      case "b":
        return BigInt(v as string);
      case "m":
        return new Map((v as [Json, Json][]).map(([k, x]) => [fromJson(k), fromJson(x)]));
      case "s":
        return new Set((v as Json[]).map(fromJson));
      case "d":
        return new Date(v as number);
      case "y":
        return Uint8Array.from(v as number[]);
      case "o":
        return plain(v as Record<string, Json>);
    }
  }
  return plain(j);
}

function plain(j: Record<string, Json>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(j)) setOwn(out, k, fromJson(j[k]!));
  return out;
}

export function encodeSnapshot(x: unknown): string {
  return JSON.stringify(toJson(x));
}

export function decodeSnapshot(s: string): unknown {
  return fromJson(JSON.parse(s) as Json);
}
