import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys } from "../runtime/context.js";
import type { Key } from "../types.js";
import { Heap, TimerHeap } from "./heap.js";

const timer = fc.record({
  time: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(1.5e12, 1.5e12 + 1)),
  key: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom("a", "b", "__proto__", "")),
});
const byTimeThenKey = (a: { time: number; key: Key }, b: { time: number; key: Key }) =>
  a.time - b.time || compareKeys(a.key, b.key);

describe("heaps", () => {
  it("Heap pops in `less` order, with pushes between pops", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer(), fc.boolean())), (ops) => {
        const h = new Heap<number>((a, b) => a < b);
        const model: number[] = [];
        for (const [x, pop] of ops) {
          h.push(x);
          model.push(x);
          if (pop) {
            model.sort((a, b) => a - b);
            expect(h.pop()).toBe(model.shift());
          }
        }
        model.sort((a, b) => a - b);
        for (const x of model) expect(h.pop()).toBe(x);
        expect(h.size).toBe(0);
      }),
    );
  });

  it("TimerHeap pops by time, then key (numbers first), with pushes between pops", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(timer, fc.boolean())), (ops) => {
        const h = new TimerHeap();
        const model: { time: number; key: Key }[] = [];
        const popOne = () => {
          model.sort(byTimeThenKey);
          const want = model.shift()!;
          expect([h.peekTime(), h.peekKey()]).toEqual([want.time, want.key]);
          h.pop();
        };
        for (const [t, pop] of ops) {
          h.push(t.time, t.key);
          model.push(t);
          if (pop) popOne();
        }
        while (model.length > 0) popOne();
        expect(h.size).toBe(0);
        expect(h.peekTime()).toBe(Number.POSITIVE_INFINITY);
      }),
    );
  });

  it("Heap.rebuild heapifies any array: pops in order afterwards, with pushes between", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.array(fc.tuple(fc.integer(), fc.boolean())), (init, ops) => {
        const h = new Heap<number>((a, b) => a < b);
        h.push(123); // replaced by the rebuild
        h.rebuild([...init]);
        const model = [...init];
        expect(h.size).toBe(init.length);
        for (const [x, pop] of ops) {
          h.push(x);
          model.push(x);
          if (pop) {
            model.sort((a, b) => a - b);
            expect(h.pop()).toBe(model.shift());
          }
        }
        model.sort((a, b) => a - b);
        for (const x of model) expect(h.pop()).toBe(x);
        expect(h.size).toBe(0);
      }),
    );
  });

  it("TimerHeap.rebuild heapifies any timers: pops by time, then key, afterwards", () => {
    fc.assert(
      fc.property(fc.array(timer), fc.array(fc.tuple(timer, fc.boolean())), (init, ops) => {
        const h = new TimerHeap();
        h.push(99, "replaced");
        h.rebuild(
          init.map((t) => t.time),
          init.map((t) => t.key),
        );
        expect(h.size).toBe(init.length);
        const model = [...init];
        const popOne = () => {
          model.sort(byTimeThenKey);
          const want = model.shift()!;
          expect([h.peekTime(), h.peekKey()]).toEqual([want.time, want.key]);
          h.pop();
        };
        for (const [t, pop] of ops) {
          h.push(t.time, t.key);
          model.push(t);
          if (pop) popOne();
        }
        while (model.length > 0) popOne();
        expect(h.size).toBe(0);
      }),
    );
  });
});
