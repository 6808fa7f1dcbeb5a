import { PipelineError } from "../errors.js";
import { isPipeline, type Pipeline } from "../pipeline/builder.js";
import type { PlanNode, RepartitionNode, SourceNode } from "../pipeline/plan.js";
import { jsonDeserialize } from "../serde.js";

export interface Edge {
  node: PlanNode;
  side: "left" | "right" | undefined;
}

/** A pipeline as the executor sees it: nodes in topological order with stable ids. */
export interface Plan {
  nodes: readonly PlanNode[];
  id: ReadonlyMap<PlanNode, string>;
  consumers: ReadonlyMap<PlanNode, readonly Edge[]>;
  /** Every topic the job reads: the pipeline's sources and its repartition topics. */
  sources: readonly SourceNode[];
  /** Topics the job writes: sinks and late side outputs. */
  outputs: readonly string[];
  /** The source each repartition step reads its topic back through. */
  repartitions: ReadonlyMap<RepartitionNode, SourceNode>;
}

export function inputsOf(n: PlanNode): Edge[] {
  switch (n.kind) {
    case "source":
      return [];
    case "union":
      return n.inputs.map((node) => ({ node, side: undefined }));
    case "intervalJoin":
    case "windowJoin":
      return [
        { node: n.left, side: "left" },
        { node: n.right, side: "right" },
      ];
    default:
      return [{ node: n.input, side: undefined }];
  }
}

/**
 * Orders the DAG reachable from the sinks (depth-first, inputs before consumers, in definition
 * order) so the same definition always gets the same ids: snapshots restore by id.
 */
export function compile(pipeline: Pipeline, options: { group?: string } = {}): Plan {
  if (!isPipeline(pipeline))
    throw new PipelineError(
      "run",
      "expected a pipeline: a stream ending in .to(topic), or Pipeline.all(...)",
    );
  if (pipeline.sinks.length === 0)
    throw new PipelineError("run", "the pipeline has no sink: end it with .to(topic)");
  const order: PlanNode[] = [];
  const seen = new Set<PlanNode>();
  const consumers = new Map<PlanNode, Edge[]>();
  const visit = (n: PlanNode) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const e of inputsOf(n)) {
      visit(e.node);
      let cs = consumers.get(e.node);
      if (!cs) consumers.set(e.node, (cs = []));
      cs.push({ node: n, side: e.side });
    }
    order.push(n);
  };
  for (const s of pipeline.sinks) visit(s);
  const id = new Map(order.map((n, i) => [n, `${i}:${n.kind}`]));
  const repartitions = new Map<RepartitionNode, SourceNode>();
  for (const n of order)
    if (n.kind === "repartition")
      repartitions.set(n, {
        kind: "source",
        step: n.step,
        label: n.label,
        keyed: false,
        topic: n.topic ?? `${options.group ?? "rivulet"}-repartition-${n.step}`,
        deserialize: jsonDeserialize,
        timestamp: undefined,
        watermark: { maxOutOfOrderness: 0, ...n.watermark },
      });
  const sources = [...order.filter((n): n is SourceNode => n.kind === "source"), ...repartitions.values()];
  const outputs = new Set<string>();
  for (const n of order) {
    if (n.kind === "sink") outputs.add(n.topic);
    if (n.kind === "window" && n.lateTo !== undefined) outputs.add(n.lateTo);
  }
  return { nodes: order, id, consumers, sources, outputs: [...outputs], repartitions };
}

/** Source nodes upstream of each node (the inputs its watermark is the minimum of). */
export function upstreamSources(plan: Plan): Map<PlanNode, Set<SourceNode>> {
  const up = new Map<PlanNode, Set<SourceNode>>();
  for (const n of plan.nodes) {
    const s = new Set<SourceNode>();
    if (n.kind === "source") s.add(n);
    else if (n.kind === "repartition") s.add(plan.repartitions.get(n)!);
    else for (const e of inputsOf(n)) for (const x of up.get(e.node)!) s.add(x);
    up.set(n, s);
  }
  return up;
}
