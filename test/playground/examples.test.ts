// The gallery in Node: every example transpiles, runs as it is on its generators and has
// output worth looking at (the e2e test compares the page's run with this one).
import { describe, expect, it } from "vitest";
import { EXAMPLES } from "../../playground/src/examples.js";
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
