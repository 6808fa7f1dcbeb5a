// Throughput, latency and lag over the last minutes (uPlot), from the metrics the page polls.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Sample } from "../store.js";
import type { View, ViewContext } from "./context.js";
import { type Colors, colors, h } from "./dom.js";

interface Chart {
  plot: uPlot | undefined;
  box: HTMLElement;
  series: { label: string; value: (s: Sample) => number | null; color: keyof Colors }[];
  unit: string;
}

export class ChartsView implements View {
  readonly id = "charts";
  readonly title = "Charts";
  private charts: Chart[] = [];
  private last = -1;
  private width = 0;
  private scheme = "";

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    const chart = (title: string, unit: string, series: Chart["series"]): Chart => {
      const box = h("div", { className: "chart", role: "img", "aria-label": title });
      panel.append(h("h3", {}, title), box);
      return { plot: undefined, box, series, unit };
    };
    this.charts = [
      chart("Throughput (records/s)", "/s", [
        { label: "in", value: (s) => s.inRate, color: "series" },
        { label: "written", value: (s) => s.outRate, color: "good" },
      ]),
      chart("Latency (ms): produced → processed, and commit time", "ms", [
        { label: "produced → processed", value: (s) => s.latency, color: "accent" },
        { label: "commit", value: (s) => s.commitMs, color: "warn" },
      ]),
      chart("Lag: records waiting, event time behind the newest record (s)", "", [
        { label: "records", value: (s) => s.lag, color: "series" },
        { label: "event-time lag (s)", value: (s) => s.eventLag, color: "wm" },
      ]),
    ];
    panel.append(
      h(
        "p",
        { className: "muted" },
        "Sampled every 250 ms from the job's metrics; latency is measured when the job's position passes what the page produced.",
      ),
    );
  }

  render(): void {
    const store = this.ctx.store;
    const width = Math.max(300, this.charts[0]?.box.clientWidth ?? 600);
    const scheme = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    const rebuild = width !== this.width || scheme !== this.scheme;
    if (!rebuild && store.version === this.last) return;
    this.last = store.version;
    this.width = width;
    this.scheme = scheme;
    const samples = store.samples.list();
    const xs = samples.map((s) => s.t);
    const c = colors();
    for (const ch of this.charts) {
      const data: uPlot.AlignedData = [xs, ...ch.series.map((s) => samples.map((x) => s.value(x)))];
      if (!ch.plot || rebuild) {
        ch.plot?.destroy();
        ch.plot = new uPlot(
          {
            width,
            height: 160,
            legend: { show: true },
            axes: [
              { stroke: c.muted, grid: { stroke: c.border } },
              { stroke: c.muted, grid: { stroke: c.border }, size: 60 },
            ],
            series: [
              {},
              ...ch.series.map((s) => ({ label: s.label, stroke: c[s.color], width: 2, spanGaps: true })),
            ],
          },
          data,
          ch.box,
        );
      } else ch.plot.setData(data);
    }
  }
}
