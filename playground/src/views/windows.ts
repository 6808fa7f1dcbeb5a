// Windows per key against event time: open ones (the job's keyed state, queried), fired ones
// (results on the output topics), fired again by late records within the allowed lateness,
// and records too late for any window (the late side output).
import type { View, ViewContext } from "./context.js";
import { colors, fill, h, short, sized, time } from "./dom.js";

interface Open {
  start: number;
  end: number;
  fired: boolean;
  value: unknown;
}

const LANES = 8;

export class WindowsView implements View {
  readonly id = "windows";
  readonly title = "Windows";
  private canvas!: HTMLCanvasElement;
  private list!: HTMLOListElement;
  private about!: HTMLElement;
  private span!: HTMLSelectElement;
  private open = new Map<string, Open[]>();
  private queriedAt = 0;
  private querying = false;
  private last = "";

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    this.canvas = h("canvas", {
      role: "img",
      "aria-label": "Windows per key against event time (the list below names every firing)",
    });
    this.span = h(
      "select",
      { id: "windows-span" },
      ...[
        [60_000, "1 min"],
        [300_000, "5 min"],
        [900_000, "15 min"],
        [3_600_000, "1 h"],
      ].map(([ms, l]) => h("option", { value: ms }, l)),
    );
    this.span.value = "300000";
    this.span.addEventListener("change", () => {
      this.last = "";
      this.render();
    });
    this.list = h("ol", { className: "firings", reversed: true });
    this.about = h("p", { className: "muted" });
    panel.append(
      this.about,
      h(
        "div",
        { className: "row legend" },
        h("span", { className: "swatch open" }),
        "open (partial result, from the job's state)",
        h("span", { className: "swatch fired" }),
        "fired",
        h("span", { className: "swatch refired" }),
        "fired again by a late record",
        h("span", { className: "swatch late" }),
        "too late: side output",
        h("label", { for: "windows-span" }, "span"),
        this.span,
      ),
      h("div", { className: "canvas-wrap" }, this.canvas),
      h("h3", {}, "Latest firings"),
      this.list,
    );
  }

  render(): void {
    const { store, session } = this.ctx;
    const plan = session.plan;
    const windows = plan?.steps.filter((s) => s.kind === "window") ?? [];
    this.about.textContent =
      windows.length === 0
        ? "This pipeline has no windows (results of the form { key, start, end, value } on any output show here too)."
        : windows
            .map(
              (w) =>
                `${w.label}: allowed lateness ${w.allowedLateness ?? 0} ms${w.lateTo ? `, too-late records to "${w.lateTo}"` : ""}`,
            )
            .join("; ");
    const rows = [...store.windows.values()];
    const keys: string[] = [];
    for (let i = rows.length - 1; i >= 0 && keys.length < LANES; i--)
      if (!keys.includes(rows[i]!.key)) keys.push(rows[i]!.key);
    if (keys.length < LANES && windows.length > 0)
      for (const k of [...store.keys.keys()].reverse()) {
        if (keys.length >= LANES) break;
        if (!keys.includes(k)) keys.push(k);
      }
    keys.sort();
    void this.queryOpen(keys);
    const wm = session.metrics?.watermark ?? Number.NEGATIVE_INFINITY;
    const key = `${store.version}:${wm}:${keys.join(",")}:${this.queriedAt}:${this.span.value}:${this.canvas.parentElement?.clientWidth}`;
    if (key === this.last) return;
    this.last = key;
    const c = colors();
    const laneH = 30;
    const top = 20;
    const height = Math.max(100, top + keys.length * laneH + 28);
    const { g, width } = sized(this.canvas, height);
    const left = 110;
    const span = Number(this.span.value);
    const anchor = Number.isFinite(wm) ? wm : Number.isFinite(store.head) ? store.head : undefined;
    g.font = "12px system-ui, sans-serif";
    if (anchor === undefined || keys.length === 0) {
      g.fillStyle = c.muted;
      g.fillText("No windows yet.", 10, 40);
      fill(this.list);
      return;
    }
    const x0 = anchor - span * 0.75;
    const x = (ts: number) => left + ((ts - x0) / span) * (width - left - 10);
    const clip = (px: number) => Math.max(left, Math.min(width - 10, px));
    g.strokeStyle = c.border;
    g.fillStyle = c.muted;
    for (let t = Math.ceil(x0 / (span / 5)) * (span / 5); t <= x0 + span; t += span / 5) {
      g.beginPath();
      g.moveTo(x(t), top - 4);
      g.lineTo(x(t), height - 22);
      g.stroke();
      g.fillText(time(t), x(t) - 24, height - 8);
    }
    const late = store.late.list();
    keys.forEach((k, i) => {
      const y = top + i * laneH;
      g.fillStyle = c.fg;
      g.fillText(k.length > 14 ? `${k.slice(0, 13)}…` : k, 6, y + 18);
      const box = (
        s: number,
        e: number,
        fillColor: string | undefined,
        stroke: string,
        dashed: boolean,
        label: string,
      ) => {
        const a = x(s);
        const b = x(e);
        if (b < left || a > width - 10) return;
        const ca = clip(a);
        const cb = clip(b);
        if (fillColor) {
          g.fillStyle = fillColor;
          g.globalAlpha = 0.35;
          g.fillRect(ca, y + 3, cb - ca - 1, laneH - 8);
          g.globalAlpha = 1;
        }
        g.strokeStyle = stroke;
        g.setLineDash(dashed ? [3, 2] : []);
        g.strokeRect(ca + 0.5, y + 3.5, Math.max(1, cb - ca - 2), laneH - 9);
        g.setLineDash([]);
        if (cb - ca > 30) {
          g.fillStyle = c.fg;
          g.fillText(label, ca + 4, y + 18, cb - ca - 6);
        }
      };
      for (const o of this.open.get(k) ?? [])
        if (!o.fired) box(o.start, o.end, undefined, c.accent, true, short(o.value, 20));
      for (const r of rows)
        if (r.key === k)
          box(
            r.start,
            r.end,
            r.fires > 1 ? c.warn : c.good,
            r.fires > 1 ? c.warn : c.good,
            false,
            `${short(r.value, 18)}${r.fires > 1 ? ` ×${r.fires}` : ""}`,
          );
      g.fillStyle = c.bad;
      for (const l of late)
        if (l.key === k && x(l.ts) >= left) {
          g.fillRect(x(l.ts) - 1, y + 2, 3, laneH - 6);
        }
    });
    if (Number.isFinite(wm)) {
      g.strokeStyle = c.wm;
      g.setLineDash([4, 3]);
      g.beginPath();
      g.moveTo(x(wm), 4);
      g.lineTo(x(wm), height - 22);
      g.stroke();
      g.setLineDash([]);
      g.fillStyle = c.wm;
      g.fillText(`watermark ${time(wm)}`, Math.min(x(wm) + 4, width - 130), 12);
    }
    fill(
      this.list,
      ...rows
        .slice(-15)
        .reverse()
        .map((r) =>
          h(
            "li",
            {},
            `${r.key} [${time(r.start)} – ${time(r.end)}) = ${short(r.value, 60)}`,
            r.fires > 1 ? h("strong", {}, ` fired ${r.fires}× (late updates)`) : "",
            h("span", { className: "muted" }, ` → ${r.topic}`),
          ),
        ),
    );
  }

  /** The open windows of the keys shown, from the job's state (at most once a second). */
  private async queryOpen(keys: string[]): Promise<void> {
    const s = this.ctx.session;
    if (
      this.querying ||
      !s.handle ||
      (s.status !== "running" && s.status !== "paused") ||
      performance.now() - this.queriedAt < 1_000
    )
      return;
    this.querying = true;
    try {
      const open = new Map<string, Open[]>();
      for (const k of keys) {
        const state = await s.query(k);
        const list: Open[] = [];
        for (const v of Object.values(state ?? {}))
          if (Array.isArray(v))
            for (const w of v)
              if (w && typeof w === "object" && typeof w.start === "number" && typeof w.end === "number")
                list.push(w as Open);
        open.set(k, list);
      }
      this.open = open;
    } finally {
      this.queriedAt = performance.now();
      this.querying = false;
    }
  }
}
