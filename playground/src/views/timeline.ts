// Event time on a line: per source partition the latest records at their event time and the
// partition's watermark; per event-time operator its watermark (the minimum over its inputs);
// the job's watermark across all. Records left of their partition's watermark are late for it.
import type { View, ViewContext } from "./context.js";
import { colors, fill, h, sized, time } from "./dom.js";

const SPANS = [
  [30_000, "30 s"],
  [120_000, "2 min"],
  [600_000, "10 min"],
  [3_600_000, "1 h"],
] as const;

export class TimelineView implements View {
  readonly id = "timeline";
  readonly title = "Watermarks";
  private canvas!: HTMLCanvasElement;
  private span!: HTMLSelectElement;
  private table!: HTMLTableSectionElement;
  private last = "";

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    this.canvas = h("canvas", {
      role: "img",
      "aria-label":
        "Watermarks per partition and operator against event time (the table below says the same)",
    });
    this.span = h(
      "select",
      { id: "timeline-span" },
      ...SPANS.map(([ms, label]) => h("option", { value: ms }, label)),
    );
    this.span.value = "120000";
    this.span.addEventListener("change", () => {
      this.last = "";
      this.render();
    });
    this.table = h("tbody");
    panel.append(
      h(
        "p",
        { className: "muted" },
        "Dots are the latest records at their event time; a line is a watermark: no record at or before it is expected any more. ",
        "A window [start, end) fires when the watermark reaches end − 1.",
      ),
      h("div", { className: "row" }, h("label", { for: "timeline-span" }, "Event-time span"), this.span),
      h("div", { className: "canvas-wrap" }, this.canvas),
      h(
        "table",
        { className: "compact" },
        h("caption", {}, "Watermarks"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "where"),
            h("th", { scope: "col" }, "watermark"),
            h("th", { scope: "col" }, "state"),
          ),
        ),
        this.table,
      ),
    );
  }

  render(): void {
    const { store, session } = this.ctx;
    const m = session.metrics;
    const key = `${store.version}:${m?.watermark}:${m?.records.in}:${this.span.value}:${this.canvas.parentElement?.clientWidth}`;
    if (key === this.last) return;
    this.last = key;
    const c = colors();
    const parts = m?.partitions ?? [];
    const ops = m?.operators ?? [];
    const laneH = 26;
    const top = 22;
    const lateLane = store.lateTopics.size > 0 ? 1 : 0;
    const height = top + (parts.length + ops.length + lateLane) * laneH + 30;
    const { g, width } = sized(this.canvas, Math.max(120, height));
    const left = 190;
    const span = Number(this.span.value);
    const wm = m?.watermark ?? Number.NEGATIVE_INFINITY;
    const anchor = Number.isFinite(wm) ? wm : Number.isFinite(store.head) ? store.head : undefined;
    g.font = "12px system-ui, sans-serif";
    g.fillStyle = c.muted;
    if (anchor === undefined) {
      g.fillText("Run a pipeline: its watermarks appear here.", 10, 40);
      fill(this.table);
      return;
    }
    const x0 = anchor - span * 0.7;
    const x = (ts: number) => left + ((ts - x0) / span) * (width - left - 10);
    // Axis: ticks every tenth of the span.
    g.strokeStyle = c.border;
    g.fillStyle = c.muted;
    g.lineWidth = 1;
    const tick = span / 6;
    for (let t = Math.ceil(x0 / tick) * tick; t <= x0 + span; t += tick) {
      const px = x(t);
      g.beginPath();
      g.moveTo(px, top - 4);
      g.lineTo(px, height - 22);
      g.stroke();
      g.fillText(time(t), px - 24, height - 8);
    }
    let y = top;
    const rows: HTMLElement[] = [];
    for (const p of parts) {
      const w = p.watermarks[0];
      const pw = w?.watermark ?? Number.NEGATIVE_INFINITY;
      g.fillStyle = c.fg;
      g.fillText(`${p.topic}/${p.partition}${w?.idle ? " (idle)" : ""}`, 6, y + 16);
      const recs = store.topics.get(p.topic)?.get(p.partition)?.list() ?? [];
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i]!;
        const px = x(r.ts);
        if (px < left || px > width) continue;
        g.fillStyle = c.series;
        g.globalAlpha = 0.35 + (0.65 * (i + 1)) / recs.length;
        g.beginPath();
        g.arc(px, y + 8 + ((r.offset * 7) % 11), 3, 0, Math.PI * 2);
        g.fill();
      }
      g.globalAlpha = 1;
      if (Number.isFinite(pw)) this.marker(g, x(pw), y, laneH, w?.idle ? c.muted : c.wm, left, width);
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, `partition ${p.topic}/${p.partition}`),
          h("td", {}, time(pw)),
          h("td", {}, w?.idle ? "idle" : `lag ${p.lag}`),
        ),
      );
      y += laneH;
    }
    for (const o of ops) {
      g.fillStyle = c.fg;
      const what = o.label.replace(/^step \d+ \(|\)$/g, "").replace(/ (aggregate|reduce)$/, "");
      const label = `${what}${o.task !== undefined ? ` #${o.task}` : ""}`;
      g.fillText(label.length > 30 ? `${label.slice(0, 29)}…` : label, 6, y + 16);
      if (Number.isFinite(o.watermark)) this.marker(g, x(o.watermark), y, laneH, c.accent, left, width);
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, `${o.label}${o.task !== undefined ? ` (task ${o.task})` : ""}`),
          h("td", {}, time(o.watermark)),
          h("td", {}, "operator"),
        ),
      );
      y += laneH;
    }
    if (lateLane) {
      g.fillStyle = c.fg;
      g.fillText("too late (side output)", 6, y + 16);
      g.fillStyle = c.bad;
      for (const l of store.late.list()) {
        const px = x(l.ts);
        if (px >= left && px <= width) g.fillRect(px - 1, y + 3, 3, laneH - 8);
      }
      y += laneH;
    }
    if (Number.isFinite(wm)) {
      g.strokeStyle = c.wm;
      g.setLineDash([4, 3]);
      g.beginPath();
      g.moveTo(x(wm), 4);
      g.lineTo(x(wm), height - 22);
      g.stroke();
      g.setLineDash([]);
      g.fillStyle = c.wm;
      g.fillText(`job watermark ${time(wm)}`, Math.min(x(wm) + 4, width - 160), 14);
    }
    if (Number.isFinite(store.head)) {
      g.fillStyle = c.muted;
      g.fillText(
        `newest ${time(store.head)}`,
        Math.min(Math.max(left, x(store.head) - 40), width - 110),
        height - 24,
      );
    }
    rows.unshift(
      h(
        "tr",
        {},
        h("td", {}, "job (minimum over operators)"),
        h("td", {}, time(wm)),
        h("td", {}, m?.status ?? ""),
      ),
    );
    fill(this.table, ...rows);
  }

  private marker(
    g: CanvasRenderingContext2D,
    px: number,
    y: number,
    laneH: number,
    color: string,
    left: number,
    width: number,
  ) {
    if (px < left || px > width) return;
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(px, y + 1);
    g.lineTo(px, y + laneH - 3);
    g.stroke();
    g.lineWidth = 1;
    g.fillStyle = color;
    g.beginPath();
    g.moveTo(px - 5, y + 1);
    g.lineTo(px + 5, y + 1);
    g.lineTo(px, y + 7);
    g.fill();
  }
}
