// Topics: create and delete them, produce records by hand, run generators; every topic's
// records per partition (offset, key, event time, value) and the job's consumer-group lag.
import {
  BASE_TIME,
  defaultGenerator,
  GENERATOR_KINDS,
  GENERATOR_LABELS,
  type GeneratorSettings,
} from "../generators.js";
import type { View, ViewContext } from "./context.js";
import { fill, h, num, short, time } from "./dom.js";

type NumberField = Exclude<keyof GeneratorSettings, "kind" | "topic">;

const FIELDS: readonly [NumberField, string, string][] = [
  ["rate", "Rate (events/s)", "How fast the page produces (wall clock)"],
  ["stepMs", "Event-time step (ms)", "Event time between consecutive events"],
  ["limit", "Stop after (events, 0 = never)", "The generator stops after this many events"],
  ["seed", "Seed", "Same seed, same events"],
  ["keys", "Keys", "Distinct users, sensors or authors"],
  ["outOfOrderMs", "Out of order by (ms)", "Each event's time moves back by up to this"],
  ["latePct", "Late (%)", "Share of events made late"],
  ["lateByMs", "Late by (ms)", "How far back a late event's time moves"],
  ["malformedPct", "Malformed (%)", "Share of events written as broken JSON"],
  ["idlePartitions", "Idle partitions", "The last this many partitions get nothing"],
];

interface Card {
  root: HTMLElement;
  partition: HTMLSelectElement;
  stats: HTMLElement;
  body: HTMLTableSectionElement;
  partitions: number;
}

export class TopicsView implements View {
  readonly id = "topics";
  readonly title = "Topics";
  private list!: HTMLElement;
  private gens!: HTMLElement;
  private produceTopic!: HTMLSelectElement;
  private genTopic!: HTMLSelectElement;
  private readonly cards = new Map<string, Card>();
  private genStatus: HTMLElement[] = [];
  private genButtons: HTMLButtonElement[] = [];
  private names = "";
  private lastVersion = -1;

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    this.list = h("div", { className: "topic-list" });
    this.gens = h("div", { className: "generators" });
    this.produceTopic = h("select", { id: "produce-topic" });
    this.genTopic = h("select", { id: "new-gen-topic" });
    const newName = h("input", {
      id: "new-topic-name",
      type: "text",
      placeholder: "e.g. orders",
      pattern: "[a-zA-Z0-9._-]+",
    });
    const newParts = h("input", { id: "new-topic-partitions", type: "number", min: 1, max: 64, value: 2 });
    const key = h("input", { id: "produce-key", type: "text", value: "user-01" });
    const ts = h("input", { id: "produce-time", type: "text", value: new Date(BASE_TIME).toISOString() });
    const value = h("textarea", { id: "produce-value", rows: 3, spellcheck: "false" });
    value.value = '{ "userId": "user-01", "kind": "click", "page": "/" }';
    const stamp = h("input", { id: "produce-stamp", type: "checkbox", checked: true });
    const kind = h(
      "select",
      { id: "new-gen-kind" },
      ...GENERATOR_KINDS.map((k) => h("option", { value: k }, GENERATOR_LABELS[k])),
    );
    panel.append(
      h(
        "section",
        { "aria-labelledby": "gen-h" },
        h("h2", { id: "gen-h" }, "Generators"),
        this.gens,
        h(
          "form",
          {
            className: "row",
            onsubmit: (e: Event) => {
              e.preventDefault();
              this.addGenerator(kind.value as GeneratorSettings["kind"], this.genTopic.value);
            },
          },
          h("label", { for: "new-gen-kind" }, "Kind"),
          kind,
          h("label", { for: "new-gen-topic" }, "into topic"),
          this.genTopic,
          h("button", { type: "submit" }, "Add generator"),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "topics-h" },
        h("h2", { id: "topics-h" }, "Topics"),
        h(
          "form",
          {
            className: "row",
            onsubmit: (e: Event) => {
              e.preventDefault();
              void this.createTopic(newName.value.trim(), Number(newParts.value));
            },
          },
          h("label", { for: "new-topic-name" }, "New topic"),
          newName,
          h("label", { for: "new-topic-partitions" }, "partitions"),
          newParts,
          h("button", { type: "submit" }, "Create topic"),
        ),
        this.list,
      ),
      h(
        "section",
        { "aria-labelledby": "produce-h" },
        h("h2", { id: "produce-h" }, "Produce a record by hand"),
        h(
          "form",
          {
            className: "grid-form",
            onsubmit: (e: Event) => {
              e.preventDefault();
              void this.produce(key.value, value.value, ts.value, stamp.checked);
            },
          },
          h("label", { for: "produce-topic" }, "Topic"),
          this.produceTopic,
          h("label", { for: "produce-key" }, "Key"),
          key,
          h("label", { for: "produce-time" }, "Event time (ISO or epoch ms)"),
          ts,
          h("label", { for: "produce-value" }, "Value (JSON)"),
          value,
          h("span", {}),
          h("label", { className: "check" }, stamp, " also set value.ts to the event time"),
          h("span", {}),
          h("button", { type: "submit" }, "Produce"),
        ),
      ),
    );
    this.rebuild();
  }

  /** Rebuilds what depends on the workspace (cards, generator forms, selects). */
  rebuild(): void {
    const w = this.ctx.workspace();
    const names = this.topicNames();
    const opts = (sel: HTMLSelectElement) => {
      const keep = sel.value;
      fill(sel, ...names.map((n) => h("option", { value: n }, n)));
      if (names.includes(keep)) sel.value = keep;
    };
    opts(this.produceTopic);
    opts(this.genTopic);
    fill(
      this.gens,
      ...(w.generators.length === 0 ? [h("p", { className: "muted" }, "No generators: add one below.")] : []),
    );
    this.genStatus = [];
    this.genButtons = [];
    w.generators.forEach((g, i) => {
      this.gens.append(this.generatorForm(g, i));
    });
    this.names = "";
    this.lastVersion = -1;
    this.render();
  }

  private topicNames(): string[] {
    const names = new Set(this.ctx.workspace().topics.map((t) => t.name));
    for (const t of this.ctx.session.topics) names.add(t.name);
    return [...names];
  }

  private generatorForm(g: GeneratorSettings, i: number): HTMLElement {
    const id = (f: string) => `gen-${i}-${f}`;
    const status = h("span", { className: "gen-status", "aria-live": "polite" });
    const toggle = h(
      "button",
      { type: "button", id: id("toggle"), onclick: () => void this.toggle(i) },
      "Start",
    );
    this.genStatus.push(status);
    this.genButtons.push(toggle);
    const set = (f: NumberField, v: number) =>
      this.ctx.update((w) => {
        const gen = w.generators[i];
        if (gen) gen[f] = v;
      });
    return h(
      "fieldset",
      { className: "gen" },
      h("legend", {}, `${GENERATOR_LABELS[g.kind]} → ${g.topic}`),
      h(
        "div",
        { className: "gen-fields" },
        ...FIELDS.map(([f, label, help]) =>
          h(
            "label",
            { for: id(f), title: help },
            label,
            h("input", {
              id: id(f),
              type: "number",
              value: g[f],
              step: f.endsWith("Pct") ? "0.1" : "1",
              onchange: (e: Event) => set(f, Number((e.target as HTMLInputElement).value)),
            }),
          ),
        ),
      ),
      h(
        "div",
        { className: "row" },
        toggle,
        status,
        h(
          "button",
          {
            type: "button",
            className: "secondary",
            onclick: () =>
              this.ctx.update((w) => {
                w.generators.splice(i, 1);
              }),
          },
          "Remove",
        ),
      ),
    );
  }

  private async toggle(i: number): Promise<void> {
    const g = this.ctx.workspace().generators[i];
    if (!g) return;
    const running = this.ctx.session.generators.get(g.topic)?.running ?? false;
    await this.ctx.setGenerator(g.topic, !running);
    this.render();
  }

  private addGenerator(kind: GeneratorSettings["kind"], topic: string): void {
    if (!topic) {
      this.ctx.announce("Create a topic first.");
      return;
    }
    if (this.ctx.workspace().generators.some((g) => g.topic === topic)) {
      this.ctx.announce(
        `Topic ${topic} has a generator already (one per topic: its position is the topic's count).`,
      );
      return;
    }
    this.ctx.update((w) => {
      w.generators.push(defaultGenerator(kind, topic));
    });
  }

  private async createTopic(name: string, partitions: number): Promise<void> {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(name)) {
      this.ctx.announce("A topic name is letters, digits, '.', '_' and '-'.");
      return;
    }
    const p = Math.max(1, Math.min(64, Math.round(partitions) || 1));
    if (this.topicNames().includes(name)) {
      this.ctx.announce(`Topic ${name} exists.`);
      return;
    }
    this.ctx.update((w) => {
      w.topics.push({ name, partitions: p });
    });
    if (this.ctx.session.handle) await this.ctx.session.createTopic(name, p);
    this.ctx.announce(`Created topic ${name} with ${p} partition${p > 1 ? "s" : ""}.`);
    this.rebuild();
  }

  private deleteTopic(name: string): void {
    if (this.ctx.hasData()) {
      this.ctx.announce(
        "Topics are append-only logs and the job's records are in them: Reset first, then delete.",
      );
      return;
    }
    this.ctx.update((w) => {
      w.topics = w.topics.filter((t) => t.name !== name);
      w.generators = w.generators.filter((g) => g.topic !== name);
    });
    this.ctx.announce(`Deleted topic ${name}.`);
  }

  private async produce(key: string, text: string, when: string, stamp: boolean): Promise<void> {
    const topic = this.produceTopic.value;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return this.ctx.announce(`The value is not JSON: ${(e as Error).message}`);
    }
    const ts = /^\d+$/.test(when.trim()) ? Number(when.trim()) : Date.parse(when);
    if (!Number.isFinite(ts)) {
      this.ctx.announce("The event time is neither an ISO date nor epoch milliseconds.");
      return;
    }
    if (stamp && value && typeof value === "object" && !Array.isArray(value))
      (value as Record<string, unknown>).ts = ts;
    try {
      await this.ctx.session.produce(topic, [{ key: key === "" ? null : key, value, timestamp: ts }]);
      this.ctx.addManual(topic, 1);
      this.ctx.announce(`Produced to ${topic} at ${time(ts)}.`);
    } catch (e) {
      this.ctx.announce(`Not produced: ${(e as Error).message}`);
    }
  }

  private card(name: string, partitions: number): Card {
    const partition = h(
      "select",
      { "aria-label": `Partition of ${name}` },
      ...Array.from({ length: partitions }, (_, p) => h("option", { value: p }, `partition ${p}`)),
    );
    partition.addEventListener("change", () => {
      this.lastVersion = -1;
      this.render();
    });
    const stats = h("div", { className: "topic-stats" });
    const body = h("tbody");
    const inWorkspace = this.ctx.workspace().topics.some((t) => t.name === name);
    const root = h(
      "article",
      { className: "topic", "aria-label": `Topic ${name}` },
      h(
        "header",
        { className: "row" },
        h("h3", {}, name),
        partition,
        inWorkspace
          ? h(
              "button",
              { type: "button", className: "secondary", onclick: () => this.deleteTopic(name) },
              "Delete",
            )
          : null,
      ),
      stats,
      h(
        "div",
        { className: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { className: "visually-hidden" }, `Latest records of ${name}`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "offset"),
              h("th", { scope: "col" }, "key"),
              h("th", { scope: "col" }, "event time"),
              h("th", { scope: "col" }, "value"),
            ),
          ),
          body,
        ),
      ),
    );
    return { root, partition, stats, body, partitions };
  }

  render(): void {
    const s = this.ctx.session;
    // Generators: running or not, how far.
    this.ctx.workspace().generators.forEach((g, i) => {
      const r = s.generators.get(g.topic);
      const btn = this.genButtons[i];
      const st = this.genStatus[i];
      if (!btn || !st) return;
      const running = r?.running ?? false;
      btn.textContent = running ? "Stop" : "Start";
      btn.setAttribute("aria-pressed", String(running));
      const pos = r ? `${num(r.position)}${g.limit > 0 ? ` / ${num(g.limit)}` : ""} events` : "";
      st.textContent = r?.error
        ? `stopped: ${r.error}`
        : r?.done
          ? `done: ${pos}`
          : running
            ? `running: ${pos}`
            : pos;
    });
    const names = this.topicNames();
    const known = new Map(this.ctx.workspace().topics.map((t) => [t.name, t.partitions]));
    for (const t of s.topics) known.set(t.name, t.partitions);
    const key = names.map((n) => `${n}:${known.get(n)}`).join(",");
    if (key !== this.names) {
      this.names = key;
      for (const n of [...this.cards.keys()])
        if (!known.has(n) || this.cards.get(n)!.partitions !== known.get(n)) this.cards.delete(n);
      for (const n of names) if (!this.cards.has(n)) this.cards.set(n, this.card(n, known.get(n) ?? 1));
      fill(this.list, ...names.map((n) => this.cards.get(n)!.root));
      const opts = (sel: HTMLSelectElement) => {
        const keep = sel.value;
        fill(sel, ...names.map((n) => h("option", { value: n }, n)));
        if (names.includes(keep)) sel.value = keep;
      };
      opts(this.produceTopic);
      opts(this.genTopic);
    }
    const version = this.ctx.store.version + (s.topics.length << 20);
    if (version === this.lastVersion) return;
    this.lastVersion = version;
    for (const [name, card] of this.cards) {
      const info = s.topics.find((t) => t.name === name);
      const p = Number(card.partition.value) || 0;
      if (info) {
        const total = info.endOffsets.reduce((a, b) => a + b, 0);
        const lag = info.group.lag;
        const role = s.plan?.sources.includes(name)
          ? "source"
          : s.plan?.outputs.includes(name)
            ? "output"
            : name === "dead-letters"
              ? "dead letters"
              : "";
        card.stats.textContent = `${role ? `${role} · ` : ""}${num(total)} records · end offsets ${info.endOffsets.join(", ")}${
          s.plan?.sources.includes(name)
            ? ` · group ${info.group.name}: committed ${info.group.committed.map((c) => c ?? "—").join(", ")}, lag ${lag.join(", ")}`
            : ""
        }`;
      } else card.stats.textContent = s.handle ? "not created yet" : "run the job to create it";
      const recs = this.ctx.store.topics.get(name)?.get(p)?.list() ?? [];
      const rows: HTMLElement[] = [];
      for (let i = recs.length - 1; i >= 0 && rows.length < 20; i--) {
        const r = recs[i]!;
        rows.push(
          h(
            "tr",
            {},
            h("td", {}, r.offset),
            h("td", {}, r.key ?? "—"),
            h("td", {}, time(r.ts)),
            h("td", { className: "mono" }, short(r.value)),
          ),
        );
      }
      fill(card.body, ...rows);
    }
  }
}
