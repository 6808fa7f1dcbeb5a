import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSnapshot, encodeSnapshot } from "./codec.js";

const roundTrip = (x: unknown) => decodeSnapshot(encodeSnapshot(x));

describe("snapshot codec", () => {
  it("keeps what JSON loses", () => {
    const x = {
      m: new Map<unknown, unknown>([
        ["__proto__", 1],
        [2, new Set(["a"])],
      ]),
      nums: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1.5],
      u: undefined,
      big: 12345678901234567890n,
      d: new Date(5),
      bytes: new Uint8Array([1, 2, 255]),
      $: "a dollar key",
    };
    const y = roundTrip(x) as typeof x;
    expect(y).toEqual(x);
    expect(Object.is(y.nums[3], -0)).toBe(true);
    expect(y.m).toBeInstanceOf(Map);
  });

  it("keeps __proto__ and constructor as own keys, without touching prototypes", () => {
    const o = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}');
    const y = roundTrip(o) as Record<string, unknown>;
    expect(Object.keys(y)).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(y)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("round-trips arbitrary JSON-like values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(roundTrip(v)).toEqual(v);
      }),
    );
  });
});
