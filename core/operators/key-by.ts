import { UserFunctionError } from "../errors.js";
import type { KeyByNode } from "../pipeline/plan.js";
import type { Push } from "../runtime/context.js";

/** Attaches the key. Keys are strings or numbers; anything else is an error of this step. */
export function keyBy(node: KeyByNode, next: Push): Push {
  const { fn, label } = node;
  return (value, ts) => {
    let key: unknown;
    try {
      key = fn(value);
    } catch (e) {
      throw new UserFunctionError(label, e);
    }
    if (typeof key !== "string" && typeof key !== "number")
      throw new UserFunctionError(
        label,
        new TypeError(`key must be a string or a number, got ${key === null ? "null" : typeof key}`),
      );
    next(value, ts, key);
  };
}
