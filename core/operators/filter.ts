import type { FilterNode } from "../pipeline/plan.js";
import { type Push, userCall } from "../runtime/context.js";

/** Keeps records for which `fn` is truthy; the rest are counted as filtered. */
export function filter(node: FilterNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts, key) => {
    if (userCall(label, fn, value)) next(value, ts, key);
  };
}
