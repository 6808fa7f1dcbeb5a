// The comparison itself: what it accepts as conforming, what it reports, and how.
import { describe, expect, it } from "vitest";
import { compareRuns } from "./compare.js";
import { type CaseRun, decodeJsonText, type OutputRecord } from "./harness.js";

const rec = (offset: number, key: string | null, value: unknown, extra: Partial<OutputRecord> = {}) => ({
  partition: 0,
  offset,
  key,
  value,
  timestamp: 1_000,
  headers: {},
  ...extra,
});

const counts = { in: 3, emitted: 3, filtered: 0, aggregated: 0, late: 0, deadLettered: 0 };
const oracle: CaseRun = {
  topics: {
    out: [rec(0, "a", { n: 1, s: "x" }), rec(1, "b", { n: 2 }), rec(2, "a", { n: 3 })],
    dlq: [rec(0, null, "{bad", { headers: { "rivulet.error.reason": "SyntaxError: nope" } })],
  },
  counts,
};

describe("compareRuns", () => {
  it("takes the same records in another partition layout, object key order and offsets, rivulet.id aside", () => {
    const run: CaseRun = {
      topics: {
        out: [
          rec(7, "b", { n: 2 }, { partition: 1, headers: { "rivulet.id": "in/1/1.0" } }),
          rec(3, "a", { s: "x", n: 1 }),
          rec(4, "a", { n: 3 }),
        ],
        dlq: [rec(9, null, "{bad", { headers: { "rivulet.error.reason": "SyntaxError: nope" } })],
      },
      counts: { ...counts },
    };
    expect(compareRuns(oracle, run).differences).toEqual([]);
  });

  it("reports missing and unexpected records, by topic", () => {
    const run: CaseRun = {
      topics: { out: [rec(0, "a", { n: 1, s: "x" }), rec(1, "b", { n: 20 }), rec(2, "a", { n: 3 })] },
    };
    const { differences } = compareRuns(oracle, run);
    expect(differences).toEqual([
      expect.stringMatching(/^topic out \(oracle 3 records, run 3\): missing .*"n":2/),
      expect.stringMatching(/^topic out \(oracle 3 records, run 3\): unexpected .*"n":20/),
      expect.stringMatching(/^topic dlq \(oracle 1 records, run 0\): missing .*SyntaxError: nope/),
    ]);
  });

  it("reports a key's records out of order", () => {
    const run: CaseRun = {
      topics: {
        ...oracle.topics,
        out: [rec(0, "a", { n: 3 }), rec(1, "b", { n: 2 }), rec(2, "a", { n: 1, s: "x" })],
      },
    };
    const { differences } = compareRuns(oracle, run);
    expect(differences).toHaveLength(1);
    expect(differences[0]).toMatch(
      /^topic out: per-key order differs: key "a", record #1 of 2: oracle .*"n":1/,
    );
  });

  it("reports other headers, and counts that differ", () => {
    const run: CaseRun = {
      topics: {
        out: oracle.topics.out!,
        dlq: [rec(0, null, "{bad", { headers: { "rivulet.error.reason": "SyntaxError: other" } })],
      },
      counts: { ...counts, late: 1, deadLettered: 2 },
    };
    const { differences } = compareRuns(oracle, run);
    expect(differences.filter((d) => d.startsWith("topic dlq"))).toHaveLength(2);
    expect(differences.filter((d) => d.startsWith("counts."))).toEqual([
      "counts.late: oracle 0, run 1",
      "counts.deadLettered: oracle 0, run 2",
    ]);
  });

  it("drops repeats by rivulet.id when asked, and reports a repeat that is not the same record", () => {
    const id = (s: string) => ({ headers: { "rivulet.id": s } });
    const out = [
      rec(0, "a", { n: 1, s: "x" }, id("i/0/0.0")),
      rec(1, "b", { n: 2 }, id("i/0/1.0")),
      rec(2, "a", { n: 1, s: "x" }, id("i/0/0.0")),
      rec(3, "a", { n: 3 }, id("i/0/2.0")),
    ];
    const run: CaseRun = { topics: { out, dlq: oracle.topics.dlq! } };
    expect(compareRuns(oracle, run).differences).not.toEqual([]);
    expect(compareRuns(oracle, run, { dropRepeats: true })).toEqual({ differences: [], repeats: 1 });
    out[2] = rec(2, "a", { n: 1, s: "y" }, id("i/0/0.0"));
    expect(compareRuns(oracle, run, { dropRepeats: true }).differences[0]).toMatch(
      /^topic out: repeats differ: .*repeats id "i\/0\/0.0" with other contents/,
    );
  });
});

describe("decodeJsonText", () => {
  it("parses JSON, keeps other text as it is, and a tombstone as null", () => {
    expect(decodeJsonText('{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(decodeJsonText("{not json")).toBe("{not json");
    expect(decodeJsonText(null)).toBeNull();
  });
});
