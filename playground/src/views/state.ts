// Keyed state, searchable: what the job's stateful steps hold for a key now (windows with their
// results so far, sessions, rolling results, a process step's state and timers, join buffers),
// through the job's interactive query.
import type { View, ViewContext } from "./context.js";
import { fill, h } from "./dom.js";

export class StateView implements View {
  readonly id = "state";
  readonly title = "Keyed state";
  private input!: HTMLInputElement;
  private keys!: HTMLDataListElement;
  private out!: HTMLElement;
  private known!: HTMLElement;
  private lastKeys = "";

  constructor(private readonly ctx: ViewContext) {}

  mount(panel: HTMLElement): void {
    this.input = h("input", {
      id: "state-key",
      type: "search",
      list: "state-keys",
      placeholder: "a key, e.g. user-03",
      autocomplete: "off",
    });
    this.keys = h("datalist", { id: "state-keys" });
    this.out = h("div", { className: "state-out", "aria-live": "polite" });
    this.known = h("p", { className: "muted" });
    panel.append(
      h(
        "form",
        {
          className: "row",
          role: "search",
          onsubmit: (e: Event) => {
            e.preventDefault();
            void this.search(this.input.value.trim());
          },
        },
        h("label", { for: "state-key" }, "Key"),
        this.input,
        this.keys,
        h("button", { type: "submit" }, "Query state"),
      ),
      this.known,
      this.out,
    );
  }

  private async search(key: string): Promise<void> {
    if (!key) return;
    if (!this.ctx.session.handle) {
      fill(this.out, h("p", {}, "Run the pipeline first: its state lives in its worker."));
      return;
    }
    // Keys may be numbers (Nexmark's ids): a number-looking key is looked up as both.
    let state = await this.ctx.session.query(key);
    if (state && Object.keys(state).length === 0 && /^-?\d+(\.\d+)?$/.test(key))
      state = await this.ctx.session.query(Number(key));
    if (!state) return;
    const entries = Object.entries(state);
    fill(
      this.out,
      h("h3", {}, `State of key "${key}"`),
      entries.length === 0
        ? h("p", {}, "No step holds state for it now.")
        : h(
            "dl",
            {},
            ...entries.flatMap(([op, v]) => [
              h("dt", {}, op),
              h("dd", {}, h("pre", {}, JSON.stringify(v, null, 2))),
            ]),
          ),
    );
  }

  render(): void {
    const keys = [...this.ctx.store.keys.keys()].slice(-200).reverse();
    const sig = keys.slice(0, 50).join("\u0000");
    if (sig === this.lastKeys) return;
    this.lastKeys = sig;
    fill(this.keys, ...keys.map((k) => h("option", { value: k })));
    this.known.textContent =
      keys.length > 0 ? `Recent keys: ${keys.slice(0, 12).join(", ")}${keys.length > 12 ? " …" : ""}` : "";
  }
}
