// The playground's job worker: the pipeline the page sends (already transpiled to JavaScript)
// is evaluated here, and only here: user code never runs on the page's thread. Everything else
// is rivulet/browser's exposeJob: topics, offsets and state in IndexedDB, a slice at a time.
import * as rivulet from "rivulet";
import { exposeJob } from "rivulet/browser";
import * as testing from "rivulet/testing";
import { evaluatePipeline } from "./user-module.js";

/** What the page hands the worker at start. */
export interface JobParams {
  /** The pipeline module, as `transpile` made it. */
  js: string;
}

exposeJob((params) => evaluatePipeline((params as JobParams).js, { rivulet, "rivulet/testing": testing }));
