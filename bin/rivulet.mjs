#!/usr/bin/env node
// The `rivulet` command: hands over to the CLI (adapters/node/cli.ts). Installed from the package,
// it runs the built CLI (dist/), which needs tsx only to load a pipeline module written in
// TypeScript. From a checkout it runs the CLI's sources through tsx, as the repo's tests do.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = new URL("../adapters/node/cli.ts", import.meta.url);
const built = new URL("../dist/adapters/node/cli.js", import.meta.url);
const fromSource = existsSync(fileURLToPath(source));

try {
  if (fromSource) {
    // The repo's tsconfig `paths` send a pipeline's `import ... from "rivulet"` to the same
    // sources as the CLI's: one copy of the classes, which the engine needs to recognise a
    // pipeline. TSX_TSCONFIG_PATH, when set, names another tsconfig.
    const { register } = await import("tsx/esm/api");
    const tsconfig = fileURLToPath(new URL("../tsconfig.json", import.meta.url));
    register(!process.env.TSX_TSCONFIG_PATH && existsSync(tsconfig) ? { tsconfig } : {});
  }
  const { main } = await import((fromSource ? source : built).href);
  // Exit explicitly: a Kafka client still retrying in the background must not keep the process up.
  process.exit(await main(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`rivulet: ${e?.stack ?? e}\n`);
  process.exit(1);
}
