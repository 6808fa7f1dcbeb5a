// Rules the codebase keeps, checked on every run: core stays runtime-agnostic, dependencies point
// one way, and the compiler and linter are satisfied.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (p.endsWith(".ts") && !p.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const stripComments = (src: string) =>
  src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");

/** Code without comments and string contents, so prose and messages do not count. */
function code(src: string): string {
  return stripComments(src)
    .replace(/`(?:\\[\s\S]|[^`\\])*`/g, "``")
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""')
    .replace(/'(?:\\.|[^'\\\n])*'/g, "''");
}

const coreFiles = files(join(root, "core")).filter((f) => !f.includes(`${join("core", "demo")}`));
const edgeFiles = files(join(root, "adapters", "edge"));
const browserFiles = files(join(root, "adapters", "browser"));

describe("core is runtime-agnostic", () => {
  it.each(coreFiles.map((f) => [relative(root, f), f]))(
    "%s imports no adapter, node:*, or client library",
    (_, f) => {
      const src = stripComments(readFileSync(f, "utf8"));
      const imports = [
        ...src.matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1] ?? m[2]!);
      for (const spec of imports) {
        expect(spec, `${relative(root, f)} imports ${spec}`).not.toMatch(
          /^node:|adapters\/|^(kafkajs|hono|idb|comlink|fs|path|os|child_process|net|http)(\/|$)/,
        );
        expect(spec.startsWith("."), `${relative(root, f)} imports the package ${spec}`).toBe(true);
      }
    },
  );

  it.each(coreFiles.map((f) => [relative(root, f), f]))("%s uses no Node-only or DOM global", (_, f) => {
    const src = code(readFileSync(f, "utf8"));
    // Globals only Node or only the DOM has (member names such as `process(` are fine).
    const banned =
      /(^|[^.\w$])(Buffer\b|process\.|setImmediate\b|require\(|__dirname\b|__filename\b|global\.|window\.|document\.|indexedDB\b|localStorage\b|navigator\.|self\.)/;
    const hit = src.split("\n").find((line) => banned.test(line));
    expect(hit, `${relative(root, f)}: ${hit?.trim()}`).toBeUndefined();
  });
});

describe("the edge adapter runs wherever fetch does", () => {
  it.each(edgeFiles.map((f) => [relative(root, f), f]))(
    "%s imports no node:*, Kafka client or other adapter",
    (_, f) => {
      const src = stripComments(readFileSync(f, "utf8"));
      const imports = [
        ...src.matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1] ?? m[2]!);
      for (const spec of imports)
        expect(spec, `${relative(root, f)} imports ${spec}`).not.toMatch(
          /^node:|adapters\/(node|browser)|^(kafkajs|fs|path|os|child_process|net|http|tsx)(\/|$)/,
        );
    },
  );

  it.each(edgeFiles.map((f) => [relative(root, f), f]))("%s uses no Node-only global", (_, f) => {
    const src = code(readFileSync(f, "utf8"));
    const banned =
      /(^|[^.\w$])(Buffer\b|process\.|setImmediate\b|require\(|__dirname\b|__filename\b|global\.)/;
    const hit = src.split("\n").find((line) => banned.test(line));
    expect(hit, `${relative(root, f)}: ${hit?.trim()}`).toBeUndefined();
  });

  it("typechecks with the web platform's types only (ES + WebWorker, no Node types)", () => {
    execFileSync(
      join(root, "node_modules", ".bin", "tsc"),
      ["-p", join(root, "tsconfig.edge.json"), "--noEmit"],
      { cwd: root, stdio: "pipe" },
    );
  }, 120_000);
});

describe("the browser adapter needs nothing of Node", () => {
  it.each(browserFiles.map((f) => [relative(root, f), f]))(
    "%s imports no node:*, Kafka client or Node adapter",
    (_, f) => {
      const src = stripComments(readFileSync(f, "utf8"));
      const imports = [
        ...src.matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1] ?? m[2]!);
      for (const spec of imports)
        expect(spec, `${relative(root, f)} imports ${spec}`).not.toMatch(
          /^node:|adapters\/node|^(kafkajs|hono|fs|path|os|child_process|net|http|tsx)(\/|$)/,
        );
    },
  );

  it("typechecks against ES and the DOM's types", () => {
    execFileSync(
      join(root, "node_modules", ".bin", "tsc"),
      ["-p", join(root, "tsconfig.browser.json"), "--noEmit"],
      {
        cwd: root,
        stdio: "pipe",
      },
    );
  }, 120_000);
});

describe("static checks", () => {
  it("typechecks (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess)", () => {
    execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.json"), "--noEmit"], {
      cwd: root,
      stdio: "pipe",
    });
  }, 120_000);

  it("core typechecks with no DOM or Node types at all", () => {
    execFileSync(
      join(root, "node_modules", ".bin", "tsc"),
      ["-p", join(root, "tsconfig.core.json"), "--noEmit"],
      { cwd: root, stdio: "pipe" },
    );
  }, 120_000);

  it("lints and formats clean (biome)", () => {
    try {
      execFileSync(join(root, "node_modules", ".bin", "biome"), ["ci", "."], { cwd: root, stdio: "pipe" });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? ""}`.slice(0, 4000));
    }
  }, 120_000);
});

describe("each entry point imports only the packages SECURITY.md lists for it", () => {
  /** Bare package names a directory's sources import (statically or dynamically). */
  const packagesOf = (dir: string) => {
    const out = new Set<string>();
    for (const f of files(join(root, dir))) {
      const src = stripComments(readFileSync(f, "utf8"));
      for (const m of src.matchAll(
        /(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
      )) {
        const spec = m[1] ?? m[2]!;
        // Relative paths, Node's built-ins, and the package itself (the edge example's imports).
        if (spec.startsWith(".") || spec.startsWith("node:") || /^rivulet(\/|$)/.test(spec)) continue;
        const parts = spec.split("/");
        out.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
    return [...out].sort();
  };
  const table = readFileSync(join(root, "SECURITY.md"), "utf8")
    .split("\n")
    .filter((l) => /^\| `rivulet/.test(l));
  const listed = (entry: string) =>
    table
      .filter((l) => l.split("|")[1]!.includes(`\`${entry}\``))
      .flatMap((l) => [...l.split("|")[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!))
      .sort();

  it.each([
    ["rivulet", "core"],
    ["rivulet/edge", "adapters/edge"],
    ["rivulet/browser", "adapters/browser"],
    ["rivulet/node", "adapters/node"],
  ])("%s (%s)", (entry, dir) => {
    expect(packagesOf(dir)).toEqual(listed(entry));
  });
});
