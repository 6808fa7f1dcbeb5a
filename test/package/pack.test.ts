// The package as a user gets it: `npm pack` (its prepack script builds dist/), the tarball
// installed into a fresh project, every Node entry imported with plain node, the CLI and the
// README's quickstart run there, the browser-facing entries bundled for the browser, and the
// optional peer dependencies taken away again. npm prefers its local cache (--prefer-offline).
// Children are stopped by the pid this file spawned, never by name.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

/** Every entry a Node user imports, with a few of the exports it must have: one line each. */
const NODE_ENTRIES: Record<string, string[]> = {
  rivulet: ["Pipeline", "run", "tumbling", "count", "json", "RivuletError", "isRivuletError"],
  "rivulet/testing": ["MemoryBroker", "FakeClock", "generateNexmark", "nexmarkEvents"],
  "rivulet/node": [
    "KafkaBroker",
    "KafkaChangelogStore",
    "FileStateStore",
    "serveMetrics",
    "cli",
    "restProxy",
    "serveRestProxy",
  ],
  "rivulet/edge": ["RestProxyBroker", "edgeApp", "jobObject", "KeyValueStateStore", "durableObjectStorage"],
};

/** Entries that must bundle for a browser (and edge runtimes) without node:*, kafkajs or tsx. */
const BROWSER_ENTRIES = ["rivulet", "rivulet/testing", "rivulet/edge", "rivulet/browser"];

const NPM_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs a command to its end (killed by its pid after `timeoutMs`) and collects its output. */
function sh(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `sh`, but the command must succeed. */
async function ok(cmd: string, args: string[], cwd: string): Promise<Ran> {
  const r = await sh(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs an ES module script in the app with plain node. */
const node = (app: string, script: string) =>
  sh(process.execPath, ["--input-type=module", "-e", script], app);

/** The ```ts block under "## Quickstart" in the README, as it stands. */
async function quickstart(): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const section = readme.split(/^## Quickstart\s*$/m)[1];
  const block = section && /```ts\n([\s\S]*?)\n```/.exec(section.split(/^## /m)[0]!)?.[1];
  if (!block) throw new Error('README.md has no ```ts block under "## Quickstart"');
  return block;
}

async function filesUnder(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await filesUnder(p, out);
    else out.push(p);
  }
  return out;
}

describe("the packed package, installed into a fresh project", () => {
  let scratch: string;
  let app: string;
  let peers: Record<string, string>;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "rivulet-pack-"));
    const pack = join(scratch, "pack");
    app = join(scratch, "app");
    await mkdir(pack);
    await mkdir(app);
    await ok("npm", ["pack", "--pack-destination", pack, "--loglevel=error"], root); // builds first
    const [tarball, ...more] = (await readdir(pack)).filter((f) => f.endsWith(".tgz"));
    expect(more).toEqual([]);
    peers = JSON.parse(await readFile(join(root, "package.json"), "utf8")).peerDependencies;
    await writeFile(
      join(app, "package.json"),
      `${JSON.stringify({ name: "rivulet-pack-test-app", private: true, type: "module" }, null, 2)}\n`,
    );
    const specs = Object.entries(peers).map(([name, range]) => `${name}@${range}`);
    await ok("npm", ["install", ...NPM_FLAGS, join(pack, tarball!), ...specs], app);
    await writeFile(
      join(app, "copy.mjs"),
      'import { Pipeline } from "rivulet";\nexport const copy = Pipeline.source("in").to("out");\n',
    );
    await writeFile(
      join(app, "copy.ts"),
      'import { Pipeline } from "rivulet";\ninterface E { n: number }\nexport const copy = Pipeline.source<E>("in").map((e: E) => e.n).to("out");\n',
    );
  }, 240_000);

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL"); // by the pid spawned above
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("ships the build, the CLI and the README, not the sources or tests", async () => {
    const installed = join(app, "node_modules", "rivulet");
    const files = (await filesUnder(installed)).map((f) => relative(installed, f).replaceAll("\\", "/"));
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "bin/rivulet.mjs"]));
    for (const f of files)
      expect(f).toMatch(/^(dist\/.*\.(js|d\.ts)|bin\/rivulet\.mjs|package\.json|README\.md|LICENSE)$/);
    expect(files.filter((f) => /\.test\./.test(f))).toEqual([]);
    const pkg = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
    // Every entry of the exports map is built: its code and its types are in the tarball.
    for (const [entry, target] of Object.entries<string | Record<string, string>>(pkg.exports))
      for (const file of typeof target === "string" ? [target] : Object.values(target))
        expect(files, `${entry} -> ${file}`).toContain(file.replace(/^\.\//, ""));
  });

  it("every Node entry imports with plain node", async () => {
    const script = `const out = {};
for (const entry of ${JSON.stringify(Object.keys(NODE_ENTRIES))}) out[entry] = Object.keys(await import(entry));
console.log(JSON.stringify(out));`;
    const r = await node(app, script);
    expect(r.code, r.stderr).toBe(0);
    const exported = JSON.parse(r.stdout) as Record<string, string[]>;
    for (const [entry, names] of Object.entries(NODE_ENTRIES))
      expect(exported[entry], entry).toEqual(expect.arrayContaining(names));
  });

  it("internal files cannot be imported (the exports map refuses them)", async () => {
    for (const deep of ["rivulet/dist/core/runtime/job.js", "rivulet/dist/adapters/node/kafka-broker.js"]) {
      const r = await node(app, `await import(${JSON.stringify(deep)});`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
    }
  });

  it("npx rivulet --help prints the usage", async () => {
    const r = await sh("npx", ["rivulet", "--help"], app);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: rivulet <command>/);
    expect(r.stdout).toContain("run <pipeline module> [export name]");
  });

  it("the CLI loads JavaScript and, through tsx, TypeScript pipeline modules", async () => {
    for (const module of ["copy.mjs", "copy.ts"]) {
      // A wrong export name: the module was loaded and its pipeline recognised, no Kafka needed.
      const r = await sh(
        "npx",
        ["rivulet", "run", module, "nope", "--brokers", "127.0.0.1:1", "--group", "g"],
        app,
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${module} has no export "nope"; its exports: copy (pipeline)`);
    }
  });

  it("runs the README quickstart as it stands, and prints what the README says", async () => {
    const code = await quickstart();
    const line = /^await broker\.records\("clicks-per-minute"\);\n\/\/ (.*)$/m.exec(code);
    expect(line, 'the quickstart reads broker.records("clicks-per-minute") and shows it').not.toBeNull();
    // The README's comment, with its shorthand fields standing for any number.
    const said = new Function("partition", "offset", `return (${line![1]});`)(
      expect.any(Number),
      expect.any(Number),
    );
    await writeFile(
      join(app, "quickstart.ts"),
      `${code}\nconsole.log(JSON.stringify(await broker.records("clicks-per-minute")));\n`,
    );
    const r = await sh(process.execPath, ["--import", "tsx", "quickstart.ts"], app, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!)).toEqual(said);
  });

  it.each(BROWSER_ENTRIES)("%s bundles for the browser without node:*, kafkajs or tsx", async (entry) => {
    const result = await build({
      stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: app, loader: "js" },
      absWorkingDir: app,
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes("node_modules/rivulet/dist/"))).toBe(true);
    expect(inputs.filter((i) => /(^|\/)node:|node_modules\/(kafkajs|tsx|esbuild)\//.test(i))).toEqual([]);
    const external = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(external).toEqual([]);
  });

  // Takes hono away: the REST proxy is the only part of rivulet/node that needs it.
  it("without hono: rivulet/node still imports, and the REST proxy names what to install", async () => {
    await ok("npm", ["uninstall", ...NPM_FLAGS, "hono", "@hono/node-server"], app);
    const r = await node(
      app,
      `const m = await import("rivulet/node");
console.log(JSON.stringify({ KafkaBroker: typeof m.KafkaBroker }));
try { m.restProxy({ brokers: ["127.0.0.1:1"] }); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    expect(r.code, r.stderr).toBe(0);
    const [loaded, refused] = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(loaded).toEqual({ KafkaBroker: "function" });
    const message =
      'the Kafka REST proxy needs the packages "hono" and "@hono/node-server": npm install hono @hono/node-server';
    expect(refused).toEqual({ code: "INVALID_ARGUMENT", message });
    const proxy = await sh("npx", ["rivulet", "proxy", "--brokers", "127.0.0.1:1", "--port", "0"], app);
    expect(proxy.code, proxy.stderr).toBe(1);
    expect(proxy.stderr).toContain(message);
  });

  // Last: takes the optional peer dependencies away from the app.
  it("without kafkajs and tsx: rivulet/node names the missing package, the CLI still runs JavaScript", async () => {
    await ok("npm", ["uninstall", ...NPM_FLAGS, ...Object.keys(peers)], app);
    const r = await node(
      app,
      `await import("rivulet"); await import("rivulet/testing");
try { await import("rivulet/node"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      code: "INVALID_ARGUMENT",
      message: 'rivulet/node needs the package "kafkajs": npm install kafkajs',
    });

    const help = await sh("npx", ["rivulet", "--help"], app);
    expect(help.code, help.stderr).toBe(0);
    const args = ["nope", "--brokers", "127.0.0.1:1", "--group", "g"];
    const js = await sh("npx", ["rivulet", "run", "copy.mjs", ...args], app);
    expect(js.code, js.stderr).toBe(2);
    expect(js.stderr).toContain('copy.mjs has no export "nope"; its exports: copy (pipeline)');
    const ts = await sh("npx", ["rivulet", "run", "copy.ts", ...args], app);
    expect(ts.code, ts.stderr).toBe(1);
    expect(ts.stderr).toContain(
      "install tsx to load TypeScript pipeline modules (npm install tsx), or compile the module to JavaScript",
    );
  });
});
