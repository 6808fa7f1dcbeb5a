#!/usr/bin/env node
// The `rivulet` command. Registers tsx's ESM loader first, so pipeline modules written in
// TypeScript load as they are, then hands over to the CLI (adapters/node/cli.ts).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

const source = new URL("../adapters/node/cli.ts", import.meta.url);
const built = new URL("../dist/adapters/node/cli.js", import.meta.url);
const fromSource = existsSync(fileURLToPath(source));

// From a checkout the CLI runs from source, and the repo's tsconfig `paths` send a pipeline's
// `import ... from "rivulet"` to that same source: one copy of the classes, which the engine
// needs to recognise a pipeline. Elsewhere tsx reads the tsconfig of the working directory
// (or TSX_TSCONFIG_PATH).
const tsconfig = fileURLToPath(new URL("../tsconfig.json", import.meta.url));
register(fromSource && !process.env.TSX_TSCONFIG_PATH && existsSync(tsconfig) ? { tsconfig } : {});

try {
  const { main } = await import((fromSource ? source : built).href);
  // Exit explicitly: a Kafka client still retrying in the background must not keep the process up.
  process.exit(await main(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`rivulet: ${e?.stack ?? e}\n`);
  process.exit(1);
}
