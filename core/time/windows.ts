/**
 * Window assigners, as plain data. Windows are `[start, end)` in event time, aligned to the
 * epoch plus `offset`, exactly as Flink's `TumblingEventTimeWindows` / `SlidingEventTimeWindows`
 * / `EventTimeSessionWindows`.
 */
export type WindowSpec =
  | { readonly kind: "tumbling"; readonly size: number; readonly offset: number }
  | { readonly kind: "sliding"; readonly size: number; readonly slide: number; readonly offset: number }
  | { readonly kind: "session"; readonly gap: number };

/**
 * Fixed-size, non-overlapping windows.
 *
 * @example
 * stream.keyBy((c) => c.userId).window(tumbling(60_000)).aggregate(count())
 */
export function tumbling(size: number, offset = 0): WindowSpec {
  return { kind: "tumbling", size, offset };
}

/**
 * Windows of `size` starting every `slide`; a record belongs to `size / slide` of them.
 *
 * @example
 * stream.keyBy((b) => b.auction).window(sliding(10_000, 2_000)).aggregate(count())
 */
export function sliding(size: number, slide: number, offset = 0): WindowSpec {
  return { kind: "sliding", size, slide, offset };
}

/**
 * Per-key activity sessions that close after `gap` without records.
 *
 * @example
 * stream.keyBy((c) => c.userId).window(session(30 * 60_000)).aggregate(count())
 */
export function session(gap: number): WindowSpec {
  return { kind: "session", gap };
}

export function describeWindow(w: WindowSpec): string {
  switch (w.kind) {
    case "tumbling":
      return `tumbling(${w.size}${w.offset ? `, ${w.offset}` : ""})`;
    case "sliding":
      return `sliding(${w.size}, ${w.slide}${w.offset ? `, ${w.offset}` : ""})`;
    case "session":
      return `session(${w.gap})`;
  }
}

const positive = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0;

/** Why a window spec cannot work, or undefined. */
export function windowProblem(w: WindowSpec | undefined): string | undefined {
  if (!w || typeof w !== "object") return "expected a window such as tumbling(60_000)";
  switch (w.kind) {
    case "tumbling":
      if (!positive(w.size)) return `window size must be a positive number of milliseconds, got ${w.size}`;
      if (!Number.isFinite(w.offset)) return `window offset must be a finite number, got ${w.offset}`;
      return undefined;
    case "sliding":
      if (!positive(w.size)) return `window size must be a positive number of milliseconds, got ${w.size}`;
      if (!positive(w.slide)) return `window slide must be a positive number of milliseconds, got ${w.slide}`;
      if (!Number.isFinite(w.offset)) return `window offset must be a finite number, got ${w.offset}`;
      return undefined;
    case "session":
      if (!positive(w.gap)) return `session gap must be a positive number of milliseconds, got ${w.gap}`;
      return undefined;
    default:
      return `unknown window kind ${(w as { kind?: unknown }).kind}`;
  }
}

/** Start of the latest window (of period `slide`) that contains `ts`. */
export function windowStart(ts: number, slide: number, offset: number): number {
  const r = (ts - offset) % slide;
  return ts - (r < 0 ? r + slide : r);
}
