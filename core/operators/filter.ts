import { UserFunctionError } from "../errors.js";
import type { FilterNode } from "../pipeline/plan.js";
import type { Push } from "../runtime/context.js";

/** Keeps records for which `fn` is truthy; the rest are counted as filtered. */
export function filter(node: FilterNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts, key) => {
    let keep: unknown;
    try {
      keep = fn(value);
    } catch (e) {
      throw new UserFunctionError(label, e);
    }
    if (keep) next(value, ts, key);
  };
}
