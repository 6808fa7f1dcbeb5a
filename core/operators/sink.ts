import { UserFunctionError } from "../errors.js";
import type { SinkNode } from "../pipeline/plan.js";
import { EMITTED, keyString, type Push, type RuntimeContext } from "../runtime/context.js";

/** Buffers records for the topic; they are written with the next commit. */
export function sink(node: SinkNode, rt: RuntimeContext): Push {
  const { topic, label, serialize, headers } = node;
  const keyFn = node.key;
  const counter = rt.counter(topic);
  const ids = rt.ids;
  if (!keyFn && !serialize && !headers && !ids)
    // The common case: the value as it is, keyed by the stream's key.
    return (value, ts, key) => {
      rt.fate |= EMITTED;
      counter.n++;
      rt.out.push(topic, keyString(key), value, ts, undefined);
    };
  return (value, ts, key) => {
    rt.fate |= EMITTED;
    counter.n++;
    let k: string | null;
    let v: unknown;
    let h: Record<string, string> | undefined;
    try {
      k = keyFn ? keyFn(value) : keyString(key);
      v = serialize ? serialize(value) : value;
      h = headers ? headers(value) : undefined;
    } catch (e) {
      throw new UserFunctionError(label, e);
    }
    rt.out.push(topic, k, v, ts, h);
    if (ids) rt.stamp(k, ts);
  };
}
