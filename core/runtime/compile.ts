import { PipelineError } from "../errors.js";
import { isPipeline, type Pipeline } from "../pipeline/builder.js";
import type { PlanNode, RepartitionNode, SourceNode } from "../pipeline/plan.js";
import { jsonDeserialize } from "../serde.js";
import { describeWindow } from "../time/windows.js";

export interface Edge {
  node: PlanNode;
  side: "left" | "right" | undefined;
}

/** A pipeline as the executor sees it: nodes in topological order with stable ids. */
export interface Plan {
  nodes: readonly PlanNode[];
  /**
   * Operator ids, which checkpoints file state under: a step's `uid`, or one derived from what
   * the step is and the topics it reads (see {@link stateKind}), so that adding or removing
   * stateless steps moves no state.
   */
  id: ReadonlyMap<PlanNode, string>;
  consumers: ReadonlyMap<PlanNode, readonly Edge[]>;
  /** Every topic the job reads: the pipeline's sources and its repartition topics. */
  sources: readonly SourceNode[];
  /** Topics the job writes: sinks and late side outputs. */
  outputs: readonly string[];
  /** The source each repartition step reads its topic back through. */
  repartitions: ReadonlyMap<RepartitionNode, SourceNode>;
  /**
   * How many repartition topics deep each source is: 0 for the pipeline's own sources, one
   * more than the deepest source upstream for a repartition step's. A bounded run ends them in
   * that order, each once the topics before it are read (`Job.drain`).
   */
  depth: ReadonlyMap<SourceNode, number>;
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
 * order) and gives every node its id (see {@link Plan.id}).
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
  const repartitions = new Map<RepartitionNode, SourceNode>();
  for (const n of order)
    if (n.kind === "repartition")
      repartitions.set(n, {
        kind: "source",
        step: n.step,
        label: n.label,
        keyed: false,
        // Numbered in plan order (not by step), so that adding stateless steps renames no topic.
        topic: n.topic ?? `${options.group ?? "rivulet"}-repartition-${repartitions.size}`,
        deserialize: jsonDeserialize,
        timestamp: undefined,
        watermark: { maxOutOfOrderness: 0, ...n.watermark },
      });
  const id = assignIds(order, repartitions);
  const depth = new Map<SourceNode, number>();
  const deepest = new Map<PlanNode, number>();
  for (const n of order) {
    let d = -1;
    if (n.kind === "source") depth.set(n, (d = 0));
    else if (n.kind === "repartition") depth.set(repartitions.get(n)!, (d = deepest.get(n.input)! + 1));
    else for (const e of inputsOf(n)) d = Math.max(d, deepest.get(e.node)!);
    deepest.set(n, d);
  }
  const sources = [...order.filter((n): n is SourceNode => n.kind === "source"), ...repartitions.values()];
  const outputs = new Set<string>();
  for (const n of order) {
    if (n.kind === "sink") outputs.add(n.topic);
    if (n.kind === "window" && n.lateTo !== undefined) outputs.add(n.lateTo);
  }
  return { nodes: order, id, consumers, sources, outputs: [...outputs], repartitions, depth };
}

/**
 * What kind of state a node keeps (what its checkpointed state looks like), or undefined for a
 * stateless one.
 */
export function stateKind(n: PlanNode): string | undefined {
  switch (n.kind) {
    case "window":
      return n.window.kind === "session" ? "session window" : "window";
    case "rolling":
    case "process":
    case "intervalJoin":
    case "windowJoin":
      return n.kind;
    default:
      return undefined;
  }
}

/**
 * Ids: an explicit `uid` as given; a source `source:<topic>`; a stateful step what it is and
 * the topics upstream of it, e.g. `window tumbling(60000)@clicks`, numbered (`#1`, `#2`) when
 * several such steps read the same topics. Adding, removing or reordering stateless steps
 * changes none of them. Stateless steps get positions (they hold no state to find again).
 */
function assignIds(order: readonly PlanNode[], repartitions: ReadonlyMap<RepartitionNode, SourceNode>) {
  const topics = new Map<PlanNode, ReadonlySet<string>>();
  for (const n of order) {
    const t = new Set<string>();
    if (n.kind === "source") t.add(n.topic);
    else if (n.kind === "repartition") t.add(repartitions.get(n)!.topic);
    else for (const e of inputsOf(n)) for (const x of topics.get(e.node)!) t.add(x);
    topics.set(n, t);
  }
  const id = new Map<PlanNode, string>();
  const taken = new Map<string, PlanNode>();
  const claim = (n: PlanNode, want: string) => {
    const other = taken.get(want);
    if (other)
      throw new PipelineError(
        n.label,
        `uid "${want}" is already the id of ${other.label}: operator ids must be unique in a pipeline`,
      );
    taken.set(want, n);
    id.set(n, want);
  };
  for (const n of order) if (n.uid !== undefined) claim(n, n.uid);
  order.forEach((n, i) => {
    if (id.has(n)) return;
    const kind = stateKind(n);
    let base: string;
    if (n.kind === "source") base = `source:${n.topic}`;
    else if (n.kind === "repartition") base = `repartition:${repartitions.get(n)!.topic}`;
    else if (kind === undefined) base = `${i}:${n.kind}`;
    else {
      const what = n.kind === "window" ? `window ${describeWindow(n.window)}` : n.kind;
      base = `${what}@${[...topics.get(n)!].sort().join("+")}`;
    }
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}#${k}`;
    claim(n, name);
  });
  return new Map(order.map((n) => [n, id.get(n)!]));
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
