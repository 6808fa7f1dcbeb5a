// Bundles a worker module for workerd as `wrangler deploy` would, with `rivulet`, `rivulet/edge`
// and `rivulet/testing` taken from the sources (as the tests see them), and checks that nothing
// of Node, nor a Kafka client, went into it.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = fileURLToPath(new URL("../..", import.meta.url));

const sources: Plugin = {
  name: "rivulet-sources",
  setup(b) {
    const entries: Record<string, string> = {
      rivulet: "core/index.ts",
      "rivulet/edge": "adapters/edge/index.ts",
      "rivulet/testing": "core/testing.ts",
    };
    b.onResolve({ filter: /^rivulet(\/(edge|testing))?$/ }, (a) => ({ path: join(root, entries[a.path]!) }));
  },
};

/** Bundles `entry` (relative to the repository) into `outfile`; returns the bundle's inputs. */
export async function bundleWorker(entry: string, outfile: string): Promise<string[]> {
  const out = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser", "import"],
    outfile,
    plugins: [sources],
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(out.metafile.inputs);
  const node = inputs.filter((i) => /(^|\/)(node:|kafkajs|tsx)/.test(i));
  if (node.length > 0) throw new Error(`${entry} bundles Node-only modules: ${node.join(", ")}`);
  return inputs;
}
