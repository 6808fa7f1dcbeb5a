import { fileURLToPath } from "node:url";
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { CHROMIUM, CHROMIUM_ARGS } from "./test/infra/chromium.js";

const alias = {
  "rivulet/node": fileURLToPath(new URL("./adapters/node/index.ts", import.meta.url)),
  "rivulet/edge": fileURLToPath(new URL("./adapters/edge/index.ts", import.meta.url)),
  "rivulet/browser": fileURLToPath(new URL("./adapters/browser/index.ts", import.meta.url)),
  "rivulet/testing": fileURLToPath(new URL("./core/testing.ts", import.meta.url)),
  rivulet: fileURLToPath(new URL("./core/index.ts", import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "node",
          environment: "node",
          // The Node adapter's unit tests need no broker; those that do are *.kafka.test.ts.
          include: [
            "core/**/*.test.ts",
            "test/unit/**/*.test.ts",
            "adapters/node/**/*.test.ts",
            "adapters/edge/**/*.test.ts",
            "test/conformance/**/*.test.ts",
          ],
          // Conformance rows that need a real runtime run in that runtime's project.
          exclude: [
            "**/*.kafka.test.ts",
            "**/*.browser.test.ts",
            "**/node_modules/**",
            "test/conformance/kafka.test.ts",
            "test/conformance/edge.test.ts",
            "test/conformance/workerd.test.ts",
          ],
        },
      },
      {
        test: {
          // The package as users get it: packed, installed in a temporary project, imported,
          // bundled for the browser (test/package/pack.test.ts).
          name: "package",
          environment: "node",
          include: ["test/package/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // Real Apache Kafka (KRaft, one broker for the whole project, started by the global setup).
          name: "kafka",
          environment: "node",
          include: [
            "test/kafka/**/*.test.ts",
            "adapters/node/**/*.kafka.test.ts",
            "test/conformance/kafka.test.ts",
            "test/conformance/edge.test.ts",
            "test/conformance/workerd.test.ts",
            // The quick chaos suite (npm run chaos -- --quick) on the same broker.
            "test/chaos/**/*.test.ts",
          ],
          globalSetup: ["test/infra/kafka-global-setup.mjs"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One broker on 2 cores: files run one after another.
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          // The web playground (playground/): built, served from a sub-path by a plain static
          // server, driven in real Chromium by playwright-core; its gallery compared with Node.
          name: "playground",
          environment: "node",
          include: ["test/playground/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // After the other projects, not beside them: its Chromium would take CPU from the
          // browser project's frame-timing tests on a 2-core machine.
          sequence: { groupOrder: 1 },
        },
      },
      {
        resolve: { alias },
        // Pre-bundled up front: a mid-run optimization would reload the page under the tests.
        optimizeDeps: { include: ["fast-check", "comlink", "idb"] },
        test: {
          name: "browser",
          // core's own suite, unchanged, in real Chromium: proves the engine needs no Node; and
          // rivulet/browser's (Web Workers, IndexedDB).
          include: [
            "core/**/*.test.ts",
            "test/browser/**/*.browser.test.ts",
            "test/conformance/**/*.browser.test.ts",
          ],
          exclude: ["core/**/*.node.test.ts"],
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS } }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
    ],
  },
});
