import type { Pipeline } from "../pipeline/builder.js";
import type { PlanNode, WatermarkOptions } from "../pipeline/plan.js";
import { describeWindow } from "../time/windows.js";
import { compile, inputsOf } from "./compile.js";

/** One step of a pipeline as plain data (see {@link describePipeline}). */
export interface PlanStep {
  /** The operator id (`uid`, or the derived one its state is checkpointed under). */
  id: string;
  kind: PlanNode["kind"];
  /** As error messages name it, e.g. `step 4 (window tumbling(60000))`. */
  label: string;
  /** Ids of the steps feeding it, in order (a join: left, right). */
  inputs: string[];
  /** Whether its records carry a key. */
  keyed: boolean;
  /** The topic a source reads, a sink writes, a repartition goes through. */
  topic?: string;
  /** A source's watermark options. */
  watermark?: WatermarkOptions;
  /** A window's or window join's assigner, e.g. `tumbling(60000)`. */
  window?: string;
  allowedLateness?: number;
  /** Where a window sends records too late for it. */
  lateTo?: string;
  /** An interval join's bounds (ms, both included). */
  between?: [number, number];
  /** A side output's tag. */
  tag?: string;
}

/** A pipeline as plain data: what UIs draw and compare (Flink's `getExecutionPlan`). */
export interface PlanDescription {
  /** Inputs before the steps that read them. */
  steps: PlanStep[];
  /** Topics the job reads (its sources; repartition topics too). */
  sources: string[];
  /** Topics it writes: sinks and late side outputs (not the dead-letter topic, a run option). */
  outputs: string[];
}

/**
 * Describes a pipeline as plain data, with the operator ids a job files its state and metrics
 * under: structured-clone safe, so it crosses a worker boundary while the functions stay behind.
 *
 * @example
 * describePipeline(perMinute).outputs; // ["clicks-per-minute", "clicks-late"]
 */
export function describePipeline(pipeline: Pipeline, options: { group?: string } = {}): PlanDescription {
  const plan = compile(pipeline, options);
  const steps = plan.nodes.map((n): PlanStep => {
    const step: PlanStep = {
      id: plan.id.get(n)!,
      kind: n.kind,
      label: n.label,
      inputs: inputsOf(n).map((e) => plan.id.get(e.node)!),
      keyed: n.keyed,
    };
    switch (n.kind) {
      case "source":
        step.topic = n.topic;
        step.watermark = { ...n.watermark };
        break;
      case "sink":
        step.topic = n.topic;
        break;
      case "repartition":
        step.topic = plan.repartitions.get(n)!.topic;
        break;
      case "window":
        step.window = describeWindow(n.window);
        step.allowedLateness = n.allowedLateness;
        if (n.lateTo !== undefined) step.lateTo = n.lateTo;
        break;
      case "windowJoin":
        step.window = describeWindow(n.window);
        break;
      case "intervalJoin":
        step.between = [n.lower, n.upper];
        break;
      case "sideOutput":
        step.tag = n.tag;
        break;
    }
    return step;
  });
  return {
    steps,
    sources: [...new Set(plan.sources.map((s) => s.topic))],
    outputs: [...plan.outputs],
  };
}
