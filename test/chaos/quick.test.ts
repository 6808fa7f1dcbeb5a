// The quick chaos suite inside `npm test` (the kafka project: its broker is the shared one of
// the scenarios that share one). Each scenario runs as `npm run chaos -- --quick` runs it, in a
// process of its own (stopped by its pid if the test ends first), its row going to
// .cache/chaos-results-quick.json (never the committed test/chaos/results.json). A scenario
// fails the test on any loss or wrong record, on any duplicate where the guarantee is exactly
// once, and on any other check of its own (a kill that did not land where it was aimed, a
// member that failed, state or heap growing, ...).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { ScenarioResult } from "./common.js";
import { SCENARIOS } from "./scenarios.js";

const root = join(import.meta.dirname, "..", "..");
const results = join(root, ".cache", "chaos-results-quick.json");
let child: ChildProcess | undefined;

afterEach(async () => {
  // A run cut short by its timeout: SIGTERM makes it stop what it started (members, proxies,
  // its own brokers), by their pids.
  const c = child;
  child = undefined;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  const timer = setTimeout(() => c.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
});

/** Runs `npm run chaos -- --quick --only=<name>`; resolves with its exit code and output. */
function runQuick(name: string): Promise<{ code: number | null; output: string }> {
  const c = spawn(
    process.execPath,
    ["--import", "tsx", join(root, "test/chaos/run.ts"), "--quick", `--only=${name}`, `--results=${results}`],
    {
      cwd: root,
      env: { ...process.env, RIVULET_KAFKA: inject("kafkaBootstrap") },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child = c;
  let output = "";
  c.stdout!.on("data", (d) => (output += d));
  c.stderr!.on("data", (d) => (output += d));
  return new Promise((resolve) => c.once("exit", (code) => resolve({ code, output })));
}

describe("chaos, quick: faults into the real components, nothing lost or repeated", () => {
  // Rows of an earlier run must never pass for this one's.
  beforeAll(() => rmSync(results, { force: true }));

  it.each(SCENARIOS.map((s) => [s.name, s] as const))(
    "%s",
    async (name, s) => {
      const { code, output } = await runQuick(name);
      const row = (JSON.parse(readFileSync(results, "utf8")) as ScenarioResult[]).find(
        (r) => r.scenario === name,
      );
      const tail = output.trimEnd().split("\n").slice(-40).join("\n");
      expect(row, `no result row for ${name}:\n${tail}`).toBeDefined();
      const what = `${name}: ${row!.problems.join("\n")}\n--- its output:\n${tail}`;
      expect(row!.lost, what).toBe(0);
      expect(row!.unexpected, what).toBe(0);
      if (s.guarantee === "exactly-once") expect(row!.duplicated, what).toBe(0);
      expect(row!.in, what).toBeGreaterThan(0);
      expect(row!.problems, what).toEqual([]);
      expect(row!.verdict, what).toBe("pass");
      expect(code, what).toBe(0);
    },
    // Each takes 10-80 s alone; a loaded 2-core machine may take several times that.
    300_000,
  );
});
