// The browser scenario's input, made the same way on the page and in Node (the oracle's run):
// clicks of 40 users, 250 ms apart, a view every 6th (filtered out by the pipeline).
import type { Click } from "../../../adapters/edge/example/pipeline.js";

export interface ClickRecord {
  key: string;
  value: Click;
  timestamp: number;
}

export function clicks(from: number, n: number): ClickRecord[] {
  const out: ClickRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = from + i;
    const value: Click = { userId: `u${k % 40}`, kind: k % 6 === 0 ? "view" : "click", ts: k * 250 };
    out[i] = { key: value.userId, value, timestamp: value.ts };
  }
  return out;
}

/** An output record as the scenario compares them: key, value and timestamp. */
export const row = (r: { key: string | null; value: unknown; timestamp: number }): string =>
  JSON.stringify([r.key, r.value, r.timestamp]);
