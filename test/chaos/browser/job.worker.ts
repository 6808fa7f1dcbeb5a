// The browser scenario's job: the clicks-per-minute pipeline (the edge example's module) in a
// module Web Worker, its topics, offsets and checkpoints in IndexedDB.
import { exposeJob } from "rivulet/browser";
import { DEFAULT_TOPICS, perMinute } from "../../../adapters/edge/example/pipeline.js";

exposeJob(() => perMinute(DEFAULT_TOPICS), { topics: { clicks: 2 }, run: { tasks: "per-partition" } });
