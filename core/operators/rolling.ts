import type { RollingNode } from "../pipeline/plan.js";
import { AGGREGATED, type Push, type RuntimeContext } from "../runtime/context.js";
import { checkNewKey, checkStateBytes } from "../runtime/limits.js";
import type { Key } from "../types.js";
import { bySection, dropKeys, type SectionOf, type StatefulOperator } from "./operator.js";
import { userFailure } from "./window.js";

/**
 * Rolling (unwindowed) keyed reduce / aggregate: updates the key's accumulator and emits the
 * new result on every record, as Flink's `KeyedStream.reduce`.
 */
export class RollingOperator implements StatefulOperator {
  readonly push: Push;
  private accs = new Map<Key, unknown>();

  constructor(
    readonly id: string,
    private readonly node: RollingNode,
    rt: RuntimeContext,
    next: Push,
  ) {
    const agg = node.aggregator;
    const keyed = node.emit === "keyed";
    const limits = rt.limits;
    this.push = (value, ts, key) => {
      rt.fate |= AGGREGATED;
      let acc = this.accs.get(key);
      let result: unknown;
      if (acc === undefined && !this.accs.has(key)) {
        if (limits.maxKeysPerOperator !== undefined) checkNewKey(limits, node.label, this.accs.size);
        acc = undefined;
        try {
          acc = agg.init();
        } catch (e) {
          throw userFailure(node.label, e);
        }
      }
      try {
        acc = agg.add(acc, value);
        result = agg.result(acc);
      } catch (e) {
        throw userFailure(node.label, e);
      }
      if (limits.maxStateBytesPerKey !== undefined) checkStateBytes(limits, node.label, acc);
      this.accs.set(key, acc);
      next(keyed ? { key, value: result } : result, ts, key);
    };
  }

  /** The key's current result. */
  query(key: Key): unknown {
    return this.accs.has(key) ? this.node.aggregator.result(this.accs.get(key)) : undefined;
  }

  snapshot(sectionOf: SectionOf): Map<number, unknown> {
    return bySection(this.accs, sectionOf);
  }

  restore(snap: unknown): void {
    for (const [k, acc] of snap as [Key, unknown][]) this.accs.set(k, acc);
  }

  drop(owned: (key: Key) => boolean): void {
    dropKeys(this.accs, owned);
  }
}
