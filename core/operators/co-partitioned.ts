import { partitionForKey } from "../broker/partitioner.js";
import type { KeyByNode } from "../pipeline/plan.js";
import type { Push, RuntimeContext } from "../runtime/context.js";

/**
 * After a `keyBy` in a per-partition task: a record whose key belongs to another partition
 * would split that key's state between two tasks, so it goes to the dead-letter topic instead.
 * A source record keyed by the same key is taken as co-partitioned (whatever partitioner put
 * it there); any other is checked against Kafka's default partitioner.
 */
export function coPartitioned(
  node: KeyByNode,
  rt: RuntimeContext,
  task: number,
  partitions: () => number,
  next: Push,
): Push {
  return (value, ts, key) => {
    const b = rt.batch;
    if (b !== undefined && (b.keys?.[rt.index] ?? null) !== (typeof key === "string" ? key : String(key))) {
      const home = partitionForKey(String(key), partitions());
      if (home !== task) {
        rt.deadLetter(
          rt.current()!,
          "keyBy",
          `key ${JSON.stringify(key)} belongs to partition ${home}, not ${task}: per-partition tasks need input keyed by the keyBy key (or .repartition() after keyBy)`,
          node.label,
        );
        return;
      }
    }
    next(value, ts, key);
  };
}
