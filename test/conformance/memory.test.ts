// Conformance row 1, the in-memory broker: every case against its oracle with other batch sizes,
// the other task mode where the case allows it, checkpoints, and at least once (a broker that
// behaves like a REST proxy) with crashes and restarts.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { MemoryStateStore } from "rivulet";
import { REST_PROXY_CAPABILITIES } from "rivulet/testing";
import { describe, expect, it } from "vitest";
import { type Action, runWithCrashes } from "../fixtures/crashes.js";
import { CASES, DEFAULT_ENV } from "./cases.js";
import { assertConforms } from "./compare.js";
import { inputRecords } from "./harness.js";
import { collectMemory, loadedMemoryBroker, memoryRunOptions, oracle, runInMemory } from "./oracle.js";

const env = DEFAULT_ENV;

const steps = (n: number): Action[] => Array.from({ length: n }, () => "step");

/** Crashes after outputs were written past a checkpoint, so the restarted job writes them again. */
const CRASHES: Record<string, readonly Action[]> = {
  "after a checkpoint": [
    ...[...steps(3), "checkpoint", ...steps(4), "crash"],
    ...[...steps(2), "checkpoint", ...steps(3), "crash", "step"],
  ] as Action[],
  "before any checkpoint but the first": [...steps(4), "crash", "step", "crash"],
};

describe.each(CASES.map((c) => [c.name, c] as const))("conformance, in memory: %s", (_, c) => {
  it("the oracle reads every input record and shows what the input plants", async () => {
    const { counts } = await oracle(c, env);
    const { in: read, emitted, filtered, aggregated, late, deadLettered } = counts!;
    expect(read).toBe(inputRecords(c, env).length);
    expect(emitted + filtered + aggregated + late + deadLettered).toBe(read);
    expect({ late, deadLettered }).toEqual(c.planted);
  });

  const variants = c.tasks.flatMap((tasks) => [1, 4, 1000].map((maxBatch) => ({ tasks, maxBatch })));
  it.each(variants)("conforms with $tasks tasks, batches of $maxBatch", async ({ tasks, maxBatch }) => {
    const expected = await oracle(c, env);
    const got = await runInMemory(c, { env, tasks, maxBatch });
    assertConforms(`case "${c.name}" in memory (${tasks}, maxBatch ${maxBatch})`, expected, got);
  });

  it("conforms with a checkpoint after every batch", async () => {
    const got = await runInMemory(c, { env, maxBatch: 3, state: new MemoryStateStore() });
    assertConforms(`case "${c.name}" in memory (checkpoints)`, await oracle(c, env), got);
  });

  it("conforms at least once, as through a REST proxy, without a crash", async () => {
    const got = await runInMemory(c, {
      env,
      maxBatch: 5,
      capabilities: REST_PROXY_CAPABILITIES,
      state: new MemoryStateStore(),
    });
    const repeats = assertConforms(`case "${c.name}" in memory (at least once)`, await oracle(c, env), got, {
      dropRepeats: true,
    });
    expect(repeats).toBe(0);
  });

  it.each(Object.entries(CRASHES))("conforms at least once with crashes %s", async (when, actions) => {
    const broker = await loadedMemoryBroker(c, env, REST_PROXY_CAPABILITIES);
    const options = memoryRunOptions(c, broker, { env, maxBatch: 2, state: new MemoryStateStore() });
    // The clock stands still: checkpoints come when asked (and with the first commit) only.
    const jobs = await runWithCrashes(() => c.pipeline(env), { ...options, checkpointInterval: 1 }, actions);
    expect(jobs.length).toBe(actions.filter((a) => a === "crash").length + 1);
    expect(jobs.at(-1)!.guarantee).toBe("at-least-once");
    // Each job counts only what it processed: the outputs, late and dead letters included, say it all.
    const got = await collectMemory(c, broker, env);
    const repeats = assertConforms(
      `case "${c.name}" in memory (at least once, crashes ${when})`,
      await oracle(c, env),
      got,
      { dropRepeats: true },
    );
    // The crashes came after outputs the checkpoints did not cover: the restarts wrote them again.
    expect(repeats).toBeGreaterThan(0);
  });
});

describe("the shared conformance modules", () => {
  it("bundle for a worker or a browser: no node:*, no test framework", async () => {
    const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
    const result = await build({
      stdin: {
        contents: [
          'export * from "./cases.js";',
          'export * from "./harness.js";',
          'export * from "./oracle.js";',
          'export * from "./compare.js";',
        ].join("\n"),
        resolveDir: here("."),
        loader: "ts",
      },
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      metafile: true,
      logLevel: "silent",
      plugins: [
        {
          name: "rivulet",
          setup(b) {
            b.onResolve({ filter: /^rivulet(\/testing)?$/ }, (args) => ({
              path: here(args.path === "rivulet" ? "../../core/index.ts" : "../../core/testing.ts"),
            }));
          },
        },
      ],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => !f.startsWith("core/") && !f.startsWith("test/conformance/"))).toEqual([
      "<stdin>",
    ]);
  });
});
