import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys } from "../runtime/context.js";
import type { Key } from "../types.js";
import { sortedKeys } from "./operator.js";

describe("sortedKeys", () => {
  it("orders a window's keys as compareKeys does (numbers first, then strings)", () => {
    const key = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(Number.NaN));
    fc.assert(
      fc.property(fc.array(key), fc.boolean(), (keys, numbersOnly) => {
        const m = new Map<Key, number>();
        for (const k of keys) if (!numbersOnly || typeof k === "number") m.set(k, 1);
        const got = [...sortedKeys(m)];
        expect(got).toEqual([...m.keys()].sort(compareKeys));
      }),
    );
  });
});
