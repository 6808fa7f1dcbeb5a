// What every chaos scenario shares: its result (the row of test/chaos/results.json), counting
// an output against the expected one, the verdict, and small helpers.

export type Runtime = "node-kafka" | "edge-rest-proxy" | "browser";
export type Guarantee = "exactly-once" | "at-least-once";

/** One scenario's row in test/chaos/results.json. */
export interface ScenarioResult {
  scenario: string;
  runtime: Runtime;
  guarantee: Guarantee;
  /** Input records the job had to read. */
  in: number;
  /** Output records read back (repeats included). */
  out: number;
  /** Expected output records missing. */
  lost: number;
  /** Output records beyond the expected ones: repeats (identical ones, at least once). */
  duplicated: number;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  seconds: number;
  verdict: "pass" | "fail";
  /** Output records that are not in the expected output at all (a wrong result). */
  unexpected: number;
  /** Other checks of the scenario that failed, in words (empty when it passed). */
  problems: string[];
  /** Scenario-specific figures (recovery times, the soak's samples ...). */
  details?: Record<string, unknown>;
}

export interface ScenarioContext {
  quick: boolean;
  /** The shared broker for scenarios that do not restart or pause it. */
  bootstrap: string;
  /** Soak duration (s). */
  soakSeconds: number;
  log: (line: string) => void;
}

export interface Counted {
  out: number;
  lost: number;
  duplicated: number;
  unexpected: number;
}

/**
 * Counts `got` against `expected`, both multisets of records as strings: an expected record
 * not there is lost; one there more often than expected is duplicated; one not expected at all
 * is unexpected.
 */
export function countAgainst(expected: readonly string[], got: readonly string[]): Counted {
  const want = new Map<string, number>();
  for (const e of expected) want.set(e, (want.get(e) ?? 0) + 1);
  const have = new Map<string, number>();
  for (const g of got) have.set(g, (have.get(g) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const [k, n] of want) lost += Math.max(0, n - (have.get(k) ?? 0));
  for (const [k, n] of have) {
    const w = want.get(k);
    if (w === undefined) unexpected += n;
    else duplicated += Math.max(0, n - w);
  }
  return { out: got.length, lost, duplicated, unexpected };
}

/** A few records that differ, for a failure's message. */
export function sampleDifferences(expected: readonly string[], got: readonly string[], n = 3): string[] {
  const want = new Set(expected);
  const have = new Set(got);
  return [
    ...[...want]
      .filter((e) => !have.has(e))
      .slice(0, n)
      .map((e) => `missing: ${e}`),
    ...[...have]
      .filter((g) => !want.has(g))
      .slice(0, n)
      .map((g) => `unexpected: ${g}`),
  ];
}

/** The row: verdict from the counts (duplicates fail exactly-once only) and the problems found. */
export function result(
  base: Omit<ScenarioResult, "verdict" | "problems" | "seconds" | keyof Counted> & {
    counted: Counted;
    startedAt: number;
    problems?: string[];
  },
): ScenarioResult {
  const { counted, startedAt, problems = [], ...rest } = base;
  const all = [...problems];
  if (counted.lost > 0) all.push(`${counted.lost} records lost`);
  if (counted.unexpected > 0) all.push(`${counted.unexpected} records that should not exist`);
  if (counted.duplicated > 0 && base.guarantee === "exactly-once")
    all.push(`${counted.duplicated} duplicates under exactly-once`);
  return {
    scenario: rest.scenario,
    runtime: rest.runtime,
    guarantee: rest.guarantee,
    in: rest.in,
    out: counted.out,
    lost: counted.lost,
    duplicated: counted.duplicated,
    faults: rest.faults,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    verdict: all.length === 0 ? "pass" : "fail",
    unexpected: counted.unexpected,
    problems: all,
    ...(rest.details ? { details: rest.details } : {}),
  };
}

/** A result for a scenario that could not finish: what went wrong is its problem. */
export function crashed(
  scenario: string,
  runtime: Runtime,
  guarantee: Guarantee,
  startedAt: number,
  error: unknown,
  faults: Record<string, number> = {},
): ScenarioResult {
  return {
    scenario,
    runtime,
    guarantee,
    in: 0,
    out: 0,
    lost: 0,
    duplicated: 0,
    faults,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    verdict: "fail",
    unexpected: 0,
    problems: [`did not finish: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`],
  };
}

/** One line per scenario: what came in and out, what was lost or repeated, the faults, the verdict. */
export function summary(r: ScenarioResult): string {
  const faults = Object.entries(r.faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const head =
    `${r.scenario} (${r.runtime}, ${r.guarantee}): in ${r.in}, out ${r.out}, lost ${r.lost}, ` +
    `duplicated ${r.duplicated}${r.unexpected ? `, unexpected ${r.unexpected}` : ""}; faults: ${faults || "none"}; ` +
    `${r.seconds} s: ${r.verdict.toUpperCase()}`;
  return r.problems.length > 0 ? `${head}\n    ${r.problems.join("\n    ")}` : head;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** mulberry32: seeded, so a failing run can be replayed with the same random moments. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until `check` holds, polling every `everyMs`, or fails after `timeoutMs` naming `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(everyMs);
  }
}
