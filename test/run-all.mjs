#!/usr/bin/env node
// `npm test`: every suite in one vitest run (node, package, real Chromium, Kafka), then the closing
// line `N passed, N failed[, N skipped]` summed over all of them. Installs what a fresh machine
// lacks where it can, and says what to install where it cannot.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, ".cache");
mkdirSync(cache, { recursive: true });

// Where Chromium may be; never a downloaded browser (no `playwright install`).
const NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
const PLACES = [
  "/usr/bin/chromium",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];
const LOOKED_AT = `looked for ${NAMES.join(", ")} on PATH and at ${PLACES[0]}`;
const HOW_TO =
  "Install Chromium or Google Chrome (Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium), " +
  "or point RIVULET_CHROMIUM at its executable: RIVULET_CHROMIUM=/path/to/chromium npm test";

const userArgs = process.argv.slice(2);
const chromium = ensureChromium();
if (!chromium.path) console.log(`[test] ${chromium.problem}`);
const env = { ...process.env };
const args = ["vitest", "run", "--reporter=default", "--reporter=json"];
if (chromium.path) env.RIVULET_CHROMIUM = chromium.path;
// Without it the Chromium projects would only fail to launch: they count as failed below.
else args.push("--project=!browser", "--project=!playground");

// A report left by an earlier run must never be read as this run's.
const report = join(cache, "vitest-report.json");
rmSync(report, { force: true });
args.push(`--outputFile.json=${report}`, ...userArgs);
const res = spawnSync("npx", args, { cwd: root, stdio: "inherit", env });

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed = r.numPassedTests;
  failed = r.numFailedTests + filesThatFailedToRun(r);
  skipped = r.numPendingTests + r.numTodoTests;
} catch {
  console.log("[test] vitest wrote no report (it stopped before the end): the run failed");
  failed = 1;
}
let code = res.status ?? 1;
if (code !== 0 && failed === 0) failed = 1; // a crash outside any test still fails the run
if (!chromium.path && browserWanted()) {
  console.log(`[test] the browser and playground projects did not run: ${chromium.problem}`);
  failed += 1;
  code ||= 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code);

// A test file that failed without any failed test (it did not load, or a hook threw) counts as one failure.
function filesThatFailedToRun(r) {
  return (r.testResults ?? []).filter(
    (s) => s.status === "failed" && !(s.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
}

/** Whether the run asked for the browser project: every project, or one named like it. */
function browserWanted() {
  const projects = userArgs.flatMap((a, i) =>
    a.startsWith("--project=") ? [a.slice(10)] : a === "--project" ? [userArgs[i + 1] ?? ""] : [],
  );
  return (
    projects.length === 0 ||
    projects.some((p) => !p.startsWith("!") && (p.includes("browser") || p.includes("playground")))
  );
}

/**
 * Chromium for the browser project, never a downloaded one: $RIVULET_CHROMIUM, else one on PATH
 * or in a usual place, else Debian's package where apt may install it. Returns its path, or why
 * there is none and what to do.
 */
function ensureChromium() {
  const wanted = process.env.RIVULET_CHROMIUM;
  if (wanted) {
    if (isExecutable(wanted)) return { path: wanted };
    return { problem: `RIVULET_CHROMIUM=${wanted} is not an executable file. ${HOW_TO}` };
  }
  const found = findChromium();
  if (found) return { path: found };
  const apt = aptProblem();
  if (apt) return { problem: `no Chromium or Chrome found (${LOOKED_AT}), and ${apt}. ${HOW_TO}` };
  console.log(`[test] no Chromium found (${LOOKED_AT}): installing Debian's chromium`);
  const sudo = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  for (const cmd of [
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "chromium"],
  ]) {
    const [exe, ...rest] = [...sudo, ...cmd];
    const r = spawnSync(exe, rest, {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0) return { problem: `\`${cmd.join(" ")}\` failed. ${HOW_TO}` };
  }
  const installed = findChromium();
  return installed
    ? { path: installed }
    : { problem: `apt installed chromium, but it is not found. ${HOW_TO}` };
}

function findChromium() {
  for (const place of PLACES) if (isExecutable(place)) return place;
  const exts = process.platform === "win32" ? [".exe", ""] : [""];
  for (const name of NAMES)
    for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean))
      for (const ext of exts) if (isExecutable(join(dir, name + ext))) return join(dir, name + ext);
  return undefined;
}

/** Why apt cannot install here, or undefined when it can (Linux, apt-get, root or passwordless sudo). */
function aptProblem() {
  if (process.platform !== "linux") return `installing it is left to you on ${process.platform}`;
  if (!onPath("apt-get")) return "this Linux has no apt-get to install it with";
  if (process.getuid?.() === 0) return undefined;
  if (onPath("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0) return undefined;
  return "installing it needs root or passwordless sudo";
}

function onPath(name) {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && isExecutable(join(dir, name)));
}

function isExecutable(file) {
  try {
    if (!existsSync(file) || !statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
