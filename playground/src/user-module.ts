// Evaluates a pipeline module that `transpile` made (CommonJS: `require`, `exports`). Only the
// worker calls it (and the tests, in Node): user code never runs on the page's thread. The
// module imports "rivulet" (and "rivulet/testing"'s types) and default-exports a pipeline, or a
// function that makes one. No DOM, no Node.
import { isPipeline, type Pipeline, PipelineError } from "rivulet";
import { USER_FILE } from "./transpile.js";

/** Lines `new Function` puts before the body ("function anonymous(...\n) {\n"). */
const WRAPPER_LINES = 2;

/**
 * @example
 * const pipeline = evaluatePipeline(transpiled.code, { rivulet: await import("rivulet") });
 */
export function evaluatePipeline(code: string, modules: Readonly<Record<string, unknown>>): Pipeline {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  const require = (name: string): unknown => {
    if (Object.hasOwn(modules, name)) return modules[name];
    throw new PipelineError(
      "import",
      `"${name}" cannot be imported here: a playground pipeline imports from ${Object.keys(modules)
        .map((m) => `"${m}"`)
        .join(" and ")}`,
    );
  };
  // The point of the worker: it runs the user's pipeline module (never on the page's thread).
  const body = new Function("require", "module", "exports", `${code}\n//# sourceURL=${USER_FILE}`);
  body(require, module, module.exports);
  let made = module.exports.default ?? module.exports.pipeline;
  if (typeof made === "function") made = (made as () => unknown)();
  if (!isPipeline(made))
    throw new PipelineError(
      "module",
      "the module must `export default` a pipeline: a stream ending in .to(topic), or Pipeline.all(...)",
    );
  return made;
}

/**
 * The line (1-based, in the user's source) of the innermost frame of user code in an error's
 * stack or its causes' stacks, or undefined.
 */
export function userLine(error: unknown): number | undefined {
  const re = new RegExp(`${USER_FILE.replace(".", "\\.")}:(\\d+):(\\d+)`);
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    const stack = (e as { stack?: unknown }).stack;
    const m = typeof stack === "string" ? re.exec(stack) : null;
    if (m) return Math.max(1, Number(m[1]) - WRAPPER_LINES);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
