// The gallery in Node: every example transpiles, runs as it is on its generators and has
// output worth looking at (the e2e test compares the page's run with this one); the generators
// are deterministic and do what their knobs say.
import { partitionForKey } from "rivulet";
import { describe, expect, it } from "vitest";
import { EXAMPLES } from "../../playground/src/examples.js";
import { defaultGenerator, EventSource, type GeneratorSettings } from "../../playground/src/generators.js";
import { transpile } from "../../playground/src/transpile.js";
import { DEAD_LETTERS, runInNode } from "./oracle.js";

describe("the examples gallery, in Node on the in-memory broker", () => {
  it.each(EXAMPLES.map((e) => [e.id, e] as const))("%s runs as it is and has output", async (_, example) => {
    const generators = example.generators.map((g) => ({ ...g, limit: 1_500 }));
    const r = await runInNode(example.code, example.topics, generators, example.tasks);
    const c = r.counts;
    expect(c.in).toBe(1_500);
    expect(c.emitted + c.filtered + c.aggregated + c.late + c.deadLettered).toBe(c.in);
    const written = Object.entries(r.topics)
      .filter(([t]) => t !== DEAD_LETTERS)
      .reduce((n, [, rs]) => n + rs.length, 0);
    expect(written).toBeGreaterThanOrEqual(3);
  });

  it("a syntax error comes back at its line", () => {
    const t = transpile('import { Pipeline } from "rivulet";\n\nconst x = {\n  a: 1\n  b: 2 };\n');
    expect(t).toMatchObject({ ok: false, line: 5 });
  });
});

describe("the generators", () => {
  const clicks = (more: Partial<GeneratorSettings> = {}) => ({
    ...defaultGenerator("clickstream", "clicks"),
    ...more,
  });

  it("event i depends on the settings and i alone: the same records again, from any position", () => {
    const a = new EventSource(clicks({ latePct: 5, malformedPct: 5 }), 3);
    const b = new EventSource(clicks({ latePct: 5, malformedPct: 5 }), 3);
    expect(b.batch(0, 500)).toEqual(a.batch(0, 500));
    expect(b.batch(200, 50)).toEqual(a.batch(0, 500).slice(200, 250));
    expect(new EventSource(clicks({ seed: 43 }), 3).batch(0, 50)).not.toEqual(a.batch(0, 50));
  });

  it("stops at its limit", () => {
    const g = new EventSource(clicks({ limit: 10 }), 3);
    expect(g.batch(5, 100)).toHaveLength(5);
    expect(g.done(10)).toBe(true);
    expect(g.done(9)).toBe(false);
  });

  it("out of order within its bound, late by its distance, malformed as broken JSON", () => {
    const g = new EventSource(
      clicks({ outOfOrderMs: 1_000, latePct: 10, lateByMs: 60_000, malformedPct: 10 }),
      3,
    );
    const rs = g.batch(0, 2_000);
    let late = 0;
    let malformed = 0;
    rs.forEach((r, i) => {
      const base = g.baseTime(i);
      if (r.timestamp! <= base - 60_000) late++;
      else expect(base - r.timestamp!).toBeLessThanOrEqual(1_000);
      if (typeof r.value === "string") {
        malformed++;
        expect(() => JSON.parse(r.value as string)).toThrow();
      }
    });
    expect(late).toBeGreaterThan(100);
    expect(late).toBeLessThan(300);
    expect(malformed).toBeGreaterThan(100);
    expect(malformed).toBeLessThan(300);
  });

  it("idle partitions get nothing; keys stay on the partition Kafka's partitioner gives them", () => {
    for (const kind of ["clickstream", "iot", "nexmark"] as const) {
      const g = new EventSource({ ...defaultGenerator(kind, "t"), idlePartitions: 1 }, 3);
      const parts = g.batch(0, 600).map((r) => r.partition ?? partitionForKey(r.key!, 3));
      expect(new Set(parts).has(2), kind).toBe(false);
      expect(new Set(parts).size, kind).toBe(2);
    }
  });
});
