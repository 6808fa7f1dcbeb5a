import type { SinkNode } from "../pipeline/plan.js";
import { EMITTED, keyString, type Push, type RuntimeContext, userCall } from "../runtime/context.js";

/** Buffers records for the topic; they are written with the next commit. */
export function sink(node: SinkNode, rt: RuntimeContext): Push {
  const { topic, label, serialize, headers } = node;
  const keyFn = node.key;
  const counter = rt.counter(topic);
  return (value, ts, key) => {
    rt.fate |= EMITTED;
    counter.n++;
    const k = keyFn ? userCall(label, keyFn, value) : keyString(key);
    const v = serialize ? userCall(label, serialize, value) : value;
    rt.out.push(
      headers
        ? { topic, key: k, value: v, timestamp: ts, headers: userCall(label, headers, value) }
        : { topic, key: k, value: v, timestamp: ts },
    );
  };
}
