// When two runs of a case conform: per output topic the same multiset of records (key, value,
// timestamp, headers but `rivulet.id`), per key the same order, and the same counts. Bundleable:
// imports "rivulet" and "rivulet/testing" only, no test framework (failures are plain Errors).
import { ID_HEADER, type StoredRecord } from "rivulet";
import { dropRepeats } from "rivulet/testing";
import type { Counts } from "./case.js";
import type { CaseRun, OutputRecord } from "./harness.js";

export interface CompareOptions {
  /**
   * The run wrote at least once (a REST proxy, a crash and a restart): keep the first record of
   * each `rivulet.id` and drop its repeats, which must be the same record (else a difference).
   */
  dropRepeats?: boolean;
  /** Headers left out of the comparison besides `rivulet.id` (e.g. one a runtime adds). */
  ignoreHeaders?: readonly string[];
}

export interface Comparison {
  /** What differs, one line each (a few per kind; the count of the rest). */
  differences: string[];
  /** Repeats dropped by `rivulet.id` (with `dropRepeats`). */
  repeats: number;
}

/** Lines shown per kind of difference before "... and N more". */
const SHOWN = 6;

/**
 * Compares a row's run of a case with the oracle's.
 *
 * @example
 * const { differences } = compareRuns(await oracle(c, env), run, { dropRepeats: true });
 */
export function compareRuns(expected: CaseRun, actual: CaseRun, options: CompareOptions = {}): Comparison {
  // The detail of a dead letter is the engine's own words (they differ between V8 versions).
  const ignored = new Set([ID_HEADER, "rivulet.error.detail", ...(options.ignoreHeaders ?? [])]);
  const out: string[] = [];
  let repeats = 0;
  const topics = [...new Set([...Object.keys(expected.topics), ...Object.keys(actual.topics)])];
  for (const topic of topics) {
    let got = actual.topics[topic] ?? [];
    if (options.dropRepeats) {
      try {
        const kept = dropRepeats(got.map((r) => ({ ...r, topic }) satisfies StoredRecord));
        repeats += got.length - kept.length;
        got = kept;
      } catch (e) {
        out.push(`topic ${topic}: repeats differ: ${(e as Error).message}`);
      }
    }
    out.push(...compareTopic(topic, expected.topics[topic] ?? [], got, ignored));
  }
  if (expected.counts && actual.counts) out.push(...compareCounts(expected.counts, actual.counts));
  return { differences: out, repeats };
}

/**
 * Throws when `actual` does not conform to `expected`, saying which case, which row, which
 * topic and what differs. Returns the repeats dropped.
 */
export function assertConforms(
  what: string,
  expected: CaseRun,
  actual: CaseRun,
  options: CompareOptions = {},
): number {
  const { differences, repeats } = compareRuns(expected, actual, options);
  if (differences.length > 0)
    throw new Error(
      `${what} does not conform to the in-memory oracle (${differences.length} difference(s)):\n  ${differences.join("\n  ")}`,
    );
  return repeats;
}

/** A record as compared: key, timestamp, value and headers, objects' keys sorted. */
function identity(r: OutputRecord, ignored: ReadonlySet<string>): string {
  const headers = Object.entries(r.headers)
    .filter(([k]) => !ignored.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return canonicalJson({ key: r.key, timestamp: r.timestamp, value: r.value, headers });
}

/** JSON with object keys sorted: values that went through JSON elsewhere compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

function compareTopic(
  topic: string,
  expected: readonly OutputRecord[],
  actual: readonly OutputRecord[],
  ignored: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  const want = expected.map((r) => identity(r, ignored));
  const got = actual.map((r) => identity(r, ignored));
  const missing = multisetMinus(want, got);
  const extra = multisetMinus(got, want);
  if (missing.length > 0 || extra.length > 0) {
    const head = `topic ${topic} (oracle ${want.length} records, run ${got.length})`;
    out.push(...listed(`${head}: missing (in the oracle, not in the run)`, missing));
    out.push(...listed(`${head}: unexpected (in the run, not in the oracle)`, extra));
    return out;
  }
  // Same multiset: now each key's records must come in the same order. Records without a key
  // have no order to keep (a producer spreads them over partitions).
  const byKey = (rs: readonly OutputRecord[], ids: readonly string[]) => {
    const m = new Map<string, string[]>();
    rs.forEach((r, i) => {
      if (r.key === null) return;
      const list = m.get(r.key);
      if (list) list.push(ids[i]!);
      else m.set(r.key, [ids[i]!]);
    });
    return m;
  };
  const gotByKey = byKey(actual, got);
  const orders: string[] = [];
  for (const [key, seq] of byKey(expected, want)) {
    const other = gotByKey.get(key) ?? [];
    const i = seq.findIndex((id, j) => id !== other[j]);
    if (i >= 0)
      orders.push(
        `key ${JSON.stringify(key)}, record #${i + 1} of ${seq.length}: oracle ${seq[i]}, run ${other[i]}`,
      );
  }
  out.push(...listed(`topic ${topic}: per-key order differs`, orders));
  return out;
}

function compareCounts(expected: Counts, actual: Counts): string[] {
  const out: string[] = [];
  for (const k of Object.keys(expected) as (keyof Counts)[])
    if (expected[k] !== actual[k]) out.push(`counts.${k}: oracle ${expected[k]}, run ${actual[k]}`);
  return out;
}

/** Elements of `a` not matched one for one in `b`, with their multiplicity. */
function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

function listed(head: string, items: readonly string[]): string[] {
  if (items.length === 0) return [];
  const lines = items.slice(0, SHOWN).map((x) => `${head}: ${x}`);
  if (items.length > SHOWN) lines.push(`${head}: ... and ${items.length - SHOWN} more`);
  return lines;
}
