// The soak's pipeline: a keyed tumbling window with allowed lateness over a fixed key space, so
// that its state stays flat only if windows are dropped once their lateness has passed. Its
// expected output is simple enough to compute while the input is made, without keeping it.
import { count, Pipeline, sum, tumbling } from "../../core/index.js";

export interface SoakEvent {
  k: string;
  v: number;
  ts: number;
}

export const SOAK_WINDOW_MS = 1_000;
export const SOAK_LATENESS_MS = 2_000;
export const SOAK_OUT_OF_ORDERNESS_MS = 500;

export function soakPipeline(input: string, output: string) {
  return Pipeline.source<SoakEvent>(input, {
    timestamp: (e) => e.ts,
    watermark: { maxOutOfOrderness: SOAK_OUT_OF_ORDERNESS_MS },
  })
    .keyBy((e) => e.k)
    .window(tumbling(SOAK_WINDOW_MS), { allowedLateness: SOAK_LATENESS_MS })
    .aggregate({ n: count(), total: sum((e: SoakEvent) => e.v) })
    .map((w) => ({ key: w.key, start: w.start, n: w.value.n, total: w.value.total }))
    .to(output);
}

/** An output row as the soak compares it: `key start n total`. */
export const soakRow = (key: string, start: number, n: number, total: number) =>
  `${key} ${start} ${n} ${total}`;
