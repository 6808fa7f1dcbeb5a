import { isRivuletError, UserFunctionError } from "../errors.js";
import type { FlatMapNode } from "../pipeline/plan.js";
import type { Push } from "../runtime/context.js";

/** Emits every element `fn` returns (arrays take a fast path; any iterable works). */
export function flatMap(node: FlatMapNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts, key) => {
    try {
      const out = fn(value);
      if (Array.isArray(out)) for (let i = 0; i < out.length; i++) next(out[i], ts, key);
      else for (const x of out) next(x, ts, key);
    } catch (e) {
      // Errors from downstream are already ours; only the user's function (or its iterator) is wrapped.
      throw isRivuletError(e) ? e : new UserFunctionError(label, e);
    }
  };
}
