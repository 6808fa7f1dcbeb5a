// Every conformance case, by name. A worker (workerd, a browser's Web Worker) imports this module
// and picks a case by name; it imports "rivulet" only, so it bundles for any runtime.
import type { ConformanceCase } from "./case.js";
import { filterMap } from "./cases/filter-map.js";
import { intervalJoin } from "./cases/interval-join.js";
import { processTimers } from "./cases/process-timers.js";
import { rollingReduce } from "./cases/rolling-reduce.js";
import { sessionWindows } from "./cases/session-windows.js";
import { slidingSum } from "./cases/sliding-sum.js";
import { tumblingCount } from "./cases/tumbling-count.js";

export type { CaseEnv, ConformanceCase, Counts, InputRecord } from "./case.js";
export { DEFAULT_BASE, DEFAULT_ENV, prefixedEnv } from "./case.js";

/** The cases, in the order rows run them. */
export const CASES: readonly ConformanceCase[] = [
  filterMap,
  tumblingCount,
  slidingSum,
  sessionWindows,
  intervalJoin,
  rollingReduce,
  processTimers,
];

/** The cases by name. */
export const cases: Readonly<Record<string, ConformanceCase>> = Object.fromEntries(
  CASES.map((c) => [c.name, c]),
);

/**
 * The case called `name`.
 *
 * @example
 * const c = caseNamed("tumbling-count");
 * const job = await run(c.pipeline(env), { broker, ...caseRunOptions(c, env) });
 */
export function caseNamed(name: string): ConformanceCase {
  const c = cases[name];
  if (!c) throw new Error(`no conformance case "${name}" (cases: ${CASES.map((x) => x.name).join(", ")})`);
  return c;
}
