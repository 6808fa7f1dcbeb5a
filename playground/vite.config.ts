// The playground: a static site (no server of its own). `npm start` serves it with Vite's dev
// server on 127.0.0.1; `npm run build` writes it to playground/dist with relative URLs, so it
// works from any static host, at any sub-path.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here("."),
  base: "./",
  resolve: {
    alias: [
      { find: /^rivulet\/browser$/, replacement: here("../adapters/browser/index.ts") },
      { find: /^rivulet\/testing$/, replacement: here("../core/testing.ts") },
      { find: /^rivulet$/, replacement: here("../core/index.ts") },
    ],
  },
  worker: { format: "es" },
  build: {
    outDir: here("dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1_500,
  },
  server: { host: "127.0.0.1", port: 5173 },
  preview: { host: "127.0.0.1", port: 4173 },
  clearScreen: false,
});
