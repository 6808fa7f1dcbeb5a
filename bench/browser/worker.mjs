// The bench's job worker (bench/browser.ts bundles it with esbuild): the clicks-per-minute
// pipeline of adapters/edge/example/pipeline.ts, unchanged, in a module Web Worker behind
// Comlink. One partition; the page chooses persistence (IndexedDB or memory), the database and
// maxLag at startWorker. Plain JavaScript: tsconfig.json, which covers bench/, has no DOM types.
import { exposeJob } from "rivulet/browser";
import { DEFAULT_TOPICS, perMinute } from "../../adapters/edge/example/pipeline.js";

exposeJob(() => perMinute(DEFAULT_TOPICS), { topics: { [DEFAULT_TOPICS.clicks]: 1 } });
