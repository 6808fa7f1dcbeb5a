import { UserFunctionError } from "../errors.js";
import type { MapNode } from "../pipeline/plan.js";
import type { Push } from "../runtime/context.js";

/**
 * Applies `fn` to every record. The user's function is called here, in this operator's own
 * try/catch, not through a shared helper: a helper's one call site would see every user
 * function of the process and stop V8 from inlining any of them.
 */
export function map(node: MapNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts, key) => {
    let out: unknown;
    try {
      out = fn(value);
    } catch (e) {
      throw new UserFunctionError(label, e);
    }
    next(out, ts, key);
  };
}
