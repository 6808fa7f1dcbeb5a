// The accounting identity as a live bar: every record in is emitted, filtered, aggregated,
// late or dead-lettered, exactly once.

import type { ViewContext } from "./context.js";
import { h, num } from "./dom.js";

const PARTS = [
  ["emitted", "emitted", "--good"],
  ["filtered", "filtered", "--muted"],
  ["aggregated", "aggregated", "--accent"],
  ["late", "late", "--warn"],
  ["deadLettered", "dead-lettered", "--bad"],
] as const;

export function accountingBar(ctx: ViewContext, root: HTMLElement): () => void {
  const bar = h("div", { className: "acc-bar", role: "img" });
  const legend = h("p", { className: "acc-legend" });
  root.append(h("h2", { className: "visually-hidden" }, "Record accounting"), bar, legend);
  const segments = PARTS.map(([, label, color]) => {
    const s = h("span", { className: "acc-seg", title: label });
    s.style.background = `var(${color})`;
    bar.append(s);
    return s;
  });
  let last = "";
  return () => {
    const r = ctx.session.metrics?.records;
    const key = r ? JSON.stringify(r) : "";
    if (key === last) return;
    last = key;
    if (!r) {
      for (const s of segments) s.style.width = "0";
      legend.textContent =
        "in = emitted + filtered + aggregated + late + dead-lettered (run a pipeline to see it)";
      bar.setAttribute("aria-label", "no job running");
      return;
    }
    const sum = r.emitted + r.filtered + r.aggregated + r.late + r.deadLettered;
    PARTS.forEach(([k], i) => {
      segments[i]!.style.width = `${r.in > 0 ? (100 * r[k]) / r.in : 0}%`;
    });
    const holds = sum === r.in;
    const text = `in ${num(r.in)} = emitted ${num(r.emitted)} + filtered ${num(r.filtered)} + aggregated ${num(r.aggregated)} + late ${num(r.late)} + dead-lettered ${num(r.deadLettered)}`;
    legend.replaceChildren(
      h("span", { className: holds ? "ok" : "bad" }, holds ? "✓ " : "✗ "),
      text,
      holds ? "" : ` (sum ${num(sum)})`,
    );
    bar.setAttribute("aria-label", text);
  };
}
