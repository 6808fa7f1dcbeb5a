// Late and dead-lettered records, with why: a late record against the watermark it missed, a
// dead letter with the stage, step and reason Rivulet wrote in its headers.
import type { View, ViewContext } from "./context.js";
import { fill, h, short, time } from "./dom.js";

export class RecordsView implements View {
  readonly id = "late";
  readonly title = "Late & dead letters";
  private late!: HTMLTableSectionElement;
  private dead!: HTMLTableSectionElement;
  private lateCount!: HTMLElement;
  private deadCount!: HTMLElement;
  private last = -1;

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    const head = (...cols: string[]) =>
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, c))));
    this.late = h("tbody");
    this.dead = h("tbody");
    this.lateCount = h("span", { className: "muted" });
    this.deadCount = h("span", { className: "muted" });
    panel.append(
      h(
        "section",
        { "aria-labelledby": "late-h" },
        h("h2", { id: "late-h" }, "Late records ", this.lateCount),
        h(
          "p",
          { className: "muted" },
          "Too late for every window they belong to: the watermark had passed the window's end + allowed lateness. Records within the lateness fire their window again instead (see Windows).",
        ),
        h(
          "div",
          { className: "table-wrap" },
          h(
            "table",
            {},
            head("topic", "key", "event time", "job watermark when seen", "behind it by", "value"),
            this.late,
          ),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "dead-h" },
        h("h2", { id: "dead-h" }, "Dead letters ", this.deadCount),
        h(
          "p",
          { className: "muted" },
          "Records Rivulet could not process, with the reason: malformed JSON, a bad timestamp, too far in the future, or a user function that threw (with onError: dead-letter).",
        ),
        h(
          "div",
          { className: "table-wrap" },
          h("table", {}, head("stage", "reason", "step", "from", "key", "value"), this.dead),
        ),
      ),
    );
  }

  render(): void {
    const s = this.ctx.store;
    if (s.version === this.last) return;
    this.last = s.version;
    const late = s.late.list();
    const dead = s.dead.list();
    this.lateCount.textContent = `(${s.counts.get([...s.lateTopics][0] ?? "") ?? late.length})`;
    this.deadCount.textContent = `(${s.counts.get(s.deadLetterTopic) ?? 0})`;
    fill(
      this.late,
      ...late
        .slice(-100)
        .reverse()
        .map((r) =>
          h(
            "tr",
            {},
            h("td", {}, r.topic),
            h("td", {}, r.key ?? "—"),
            h("td", {}, time(r.ts)),
            h("td", {}, time(r.watermark)),
            h("td", {}, Number.isFinite(r.watermark) ? `${((r.watermark - r.ts) / 1000).toFixed(1)} s` : "—"),
            h("td", { className: "mono" }, short(r.value, 80)),
          ),
        ),
    );
    fill(
      this.dead,
      ...dead
        .slice(-100)
        .reverse()
        .map((r) => {
          const hd = r.headers ?? {};
          return h(
            "tr",
            {},
            h("td", {}, hd["rivulet.error.stage"] ?? "—"),
            h("td", {}, hd["rivulet.error.reason"] ?? "—"),
            h("td", {}, hd["rivulet.error.step"] ?? "—"),
            h(
              "td",
              {},
              hd["rivulet.source.topic"]
                ? `${hd["rivulet.source.topic"]}/${hd["rivulet.source.partition"]}@${hd["rivulet.source.offset"]}`
                : "—",
            ),
            h("td", {}, r.key ?? "—"),
            h("td", { className: "mono" }, short(r.value, 80)),
          );
        }),
    );
  }
}
