import { describe, expect, it } from "vitest";
import { assignRequested } from "./assigner.js";

describe("assignRequested", () => {
  it("gives assigning members exactly what they asked for, overlaps included", () => {
    const out = assignRequested(
      [
        { memberId: "b", topics: ["t"], request: { assign: { t: [0, 2] } } },
        { memberId: "a", topics: ["t", "u"], request: { assign: { t: [2], u: [1] } } },
      ],
      new Map([
        ["t", 4],
        ["u", 2],
      ]),
    );
    expect(Object.fromEntries(out)).toEqual({ a: { t: [2], u: [1] }, b: { t: [0, 2] } });
  });

  it("spreads the other partitions of subscribed topics over subscribers, round robin by member id", () => {
    const out = assignRequested(
      [
        { memberId: "s2", topics: ["t"], request: { subscribe: true } },
        { memberId: "x", topics: ["t"], request: { assign: { t: [1] } } },
        { memberId: "s1", topics: ["t", "u"], request: { subscribe: true } },
      ],
      new Map([
        ["t", 5],
        ["u", 2],
      ]),
    );
    expect(Object.fromEntries(out)).toEqual({
      s1: { t: [0, 3], u: [0, 1] },
      s2: { t: [2, 4] },
      x: { t: [1] },
    });
  });

  it("leaves a topic nobody subscribes to unassigned", () => {
    const out = assignRequested(
      [{ memberId: "a", topics: ["t"], request: { subscribe: true } }],
      new Map([["v", 3]]),
    );
    expect(Object.fromEntries(out)).toEqual({ a: {} });
  });
});
