import type { MapNode } from "../pipeline/plan.js";
import { type Push, userCall } from "../runtime/context.js";

/** Applies `fn` to every record. */
export function map(node: MapNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts, key) => next(userCall(label, fn, value), ts, key);
}
