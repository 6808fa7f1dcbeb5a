#!/usr/bin/env node
// `npm test`: every suite in one vitest run (node, real Chromium, ...), then the closing line
// `N passed, N failed[, N skipped]` summed over all of them. Installs what a fresh machine lacks.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, ".cache");
mkdirSync(cache, { recursive: true });

ensureChromium();

const report = join(cache, "vitest-report.json");
const args = [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const res = spawnSync("npx", args, { cwd: root, stdio: "inherit", env: process.env });

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed = r.numPassedTests;
  failed = r.numFailedTests + filesThatFailedToRun(r);
  skipped = r.numPendingTests + r.numTodoTests;
} catch {
  failed = Math.max(1, failed);
}
const code = res.status ?? 1;
if (code !== 0 && failed === 0) failed = 1; // a crash outside any test still fails the run
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code);

// A test file that failed without any failed test (it did not load, or a hook threw) counts as one failure.
function filesThatFailedToRun(r) {
  return (r.testResults ?? []).filter(
    (s) => s.status === "failed" && !(s.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
}

function ensureChromium() {
  const exe = process.env.RIVULET_CHROMIUM ?? "/usr/bin/chromium";
  if (existsSync(exe)) return;
  console.log(`[test] ${exe} is missing: installing Debian's chromium`);
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const run = (cmd) => {
    const r = spawnSync(sudo.length ? "sudo" : cmd[0], sudo.length ? cmd : cmd.slice(1), {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0) throw new Error(`failed: ${cmd.join(" ")}`);
  };
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "chromium"]);
}
