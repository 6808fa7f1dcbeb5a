// The playground page: the editor, the job controls, the views, and the loop that draws them
// (requestAnimationFrame; the worker feeds the data, the page only draws what changed).
import "./style.css";
import { createEditor, type Editor } from "./editor.js";
import { EXAMPLES, exampleById } from "./examples.js";
import { DEAD_LETTER_TOPIC, Session } from "./session.js";
import { Store } from "./store.js";
import { transpile } from "./transpile.js";
import { accountingBar } from "./views/accounting.js";
import { ChartsView } from "./views/charts.js";
import type { View, ViewContext } from "./views/context.js";
import { fill, h } from "./views/dom.js";
import { RecordsView } from "./views/records.js";
import { StateView } from "./views/state.js";
import { TimelineView } from "./views/timeline.js";
import { TopicsView } from "./views/topics.js";
import { WindowsView } from "./views/windows.js";
import {
  fromExample,
  fromHash,
  loadSession,
  loadWorkspace,
  type SessionRecord,
  saveSession,
  saveWorkspace,
  shareHash,
  type Workspace,
} from "./workspace.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const store = new Store();
let workspace: Workspace = loadWorkspace();
let record: SessionRecord | undefined = loadSession();
let dirty = true;
const session = new Session(store, () => {
  dirty = true;
  // A job stopped by an error or a timeout is not started again by a reload.
  if (session.status === "stopped" && record && record.status !== "stopped") {
    record.status = "stopped";
    persistRecord();
  }
});

const status = $<HTMLParagraphElement>("status");
const problems = $<HTMLDivElement>("problems");
let editor: Editor;

function announce(message: string): void {
  status.textContent = message;
}

function persistRecord(): void {
  saveSession(record);
}

const ctx: ViewContext = {
  store,
  session,
  workspace: () => workspace,
  update(change) {
    change(workspace);
    saveWorkspace(workspace);
    topicsView.rebuild();
  },
  announce,
  hasData: () => record !== undefined,
  manualCount: (topic) => record?.manual[topic] ?? 0,
  addManual(topic, n) {
    if (!record) return;
    record.manual[topic] = (record.manual[topic] ?? 0) + n;
    persistRecord();
  },
  async setGenerator(topic, on) {
    if (on && !session.handle) {
      await run();
      if (!session.handle) return;
    }
    const settings = workspace.generators.find((g) => g.topic === topic);
    if (!settings) return;
    const running = session.generators.get(topic);
    running?.stop();
    if (on) {
      const g = session.addGenerator({ ...settings }, ctx.manualCount(topic));
      if (!g) return announce(`Topic ${topic} does not exist in the job's worker: create it first.`);
      if (g.done)
        announce(
          `The generator of ${topic} has made its ${g.settings.limit} events: raise "Stop after" to go on.`,
        );
      g.start();
    }
    if (record) {
      record.generatorsOn = record.generatorsOn.filter((t) => t !== topic);
      if (on) record.generatorsOn.push(topic);
      persistRecord();
    }
    dirty = true;
  },
};

const topicsView = new TopicsView(ctx);
const views: View[] = [
  topicsView,
  new TimelineView(ctx),
  new WindowsView(ctx),
  new RecordsView(ctx),
  new StateView(ctx),
  new ChartsView(ctx),
];
let active: View = views[0]!;
const renderAccounting = accountingBar(ctx, $("accounting"));

function mountTabs(): void {
  const list = document.querySelector<HTMLElement>(".tabs")!;
  const panels = $("panels");
  const tabs = views.map((v, i) => {
    const tab = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${v.id}`,
        "aria-controls": `panel-${v.id}`,
        "aria-selected": String(i === 0),
        tabindex: i === 0 ? 0 : -1,
      },
      v.title,
    );
    const panel = h("div", {
      role: "tabpanel",
      id: `panel-${v.id}`,
      "aria-labelledby": `tab-${v.id}`,
      tabindex: 0,
      hidden: i !== 0,
    });
    v.mount(panel);
    panels.append(panel);
    tab.addEventListener("click", () => select(i));
    tab.addEventListener("keydown", (e) => {
      const k = e.key;
      const to =
        k === "ArrowRight"
          ? i + 1
          : k === "ArrowLeft"
            ? i - 1
            : k === "Home"
              ? 0
              : k === "End"
                ? views.length - 1
                : undefined;
      if (to === undefined) return;
      e.preventDefault();
      select((to + views.length) % views.length);
      tabs[(to + views.length) % views.length]!.focus();
    });
    list.append(tab);
    return tab;
  });
  function select(i: number) {
    tabs.forEach((t, j) => {
      t.setAttribute("aria-selected", String(i === j));
      t.tabIndex = i === j ? 0 : -1;
      $(`panel-${views[j]!.id}`).hidden = i !== j;
    });
    active = views[i]!;
    dirty = true;
  }
}

function fillExamples(): void {
  const sel = $<HTMLSelectElement>("example");
  fill(
    sel,
    h("option", { value: "" }, "(your own)"),
    ...EXAMPLES.map((e) => h("option", { value: e.id }, e.title)),
  );
  sel.value = workspace.exampleId ?? "";
  sel.addEventListener("change", () => {
    const e = exampleById(sel.value);
    if (!e) return;
    // Another example reads other topics: the job is reset.
    void loadWorkspaceIntoPage(fromExample(e), true);
  });
}

async function loadWorkspaceIntoPage(w: Workspace, reset: boolean): Promise<void> {
  if (reset) await resetJob(false);
  workspace = w;
  saveWorkspace(w);
  editor.setText(w.code);
  $<HTMLSelectElement>("example").value = w.exampleId ?? "";
  syncSettings();
  topicsView.rebuild();
  showSummary();
  announce(w.exampleId ? `Loaded the example "${exampleById(w.exampleId)?.title}". Press Run.` : "Loaded.");
}

function showSummary(): void {
  const e = workspace.exampleId ? exampleById(workspace.exampleId) : undefined;
  $("summary").textContent = e && e.code === workspace.code ? e.summary : "";
}

function syncSettings(): void {
  $<HTMLSelectElement>("tasks").value = workspace.run.tasks;
  $<HTMLSelectElement>("on-error").value = workspace.run.onError;
  $<HTMLInputElement>("max-batch").value = String(workspace.run.maxBatch);
}

function bindSettings(): void {
  $("tasks").addEventListener("change", (e) =>
    ctx.update(
      (w) =>
        void (w.run.tasks = (e.target as HTMLSelectElement).value === "shared" ? "shared" : "per-partition"),
    ),
  );
  $("on-error").addEventListener("change", (e) =>
    ctx.update(
      (w) =>
        void (w.run.onError =
          (e.target as HTMLSelectElement).value === "dead-letter" ? "dead-letter" : "fail"),
    ),
  );
  $("max-batch").addEventListener("change", (e) =>
    ctx.update(
      (w) =>
        void (w.run.maxBatch = Math.max(
          1,
          Math.min(10_000, Number((e.target as HTMLInputElement).value) || 200),
        )),
    ),
  );
}

const newDatabase = () =>
  `rivulet-playground-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** Run: start the job (or restart it with the editor's code), or resume it when paused. */
async function run(): Promise<void> {
  const source = editor.text();
  const t = transpile(source);
  editor.lintNow();
  if (!t.ok) {
    session.problem = { kind: "syntax", message: `Line ${t.line}: ${t.message}`, line: t.line };
    dirty = true;
    return;
  }
  if (session.handle && record?.source === source) {
    if (session.status === "paused") await session.resume();
    if (record) record.status = "running";
    persistRecord();
    return;
  }
  const fresh = !record;
  record ??= { database: newDatabase(), source, status: "running", generatorsOn: [], manual: {} };
  record.source = source;
  record.status = "running";
  persistRecord();
  await start(fresh);
}

async function start(fresh: boolean): Promise<void> {
  if (!record) return;
  const t = transpile(record.source);
  if (!t.ok) return;
  announce(fresh ? "Starting the job in its worker…" : "Starting the job: it goes on from its last commit…");
  await session.start({
    js: t.code,
    database: record.database,
    topics: workspace.topics,
    run: workspace.run,
  });
  if (session.status !== "running") {
    record.status = "stopped";
    persistRecord();
    return;
  }
  announce(
    session.inMemory
      ? "Running in memory: this browser offers no IndexedDB here, so a reload starts over."
      : session.restored
        ? "Running: resumed from the last commit in IndexedDB."
        : "Running.",
  );
  const on = fresh ? workspace.generators.map((g) => g.topic) : record.generatorsOn;
  for (const topic of on) await ctx.setGenerator(topic, true);
  if (record.status === "paused") await session.pause();
}

async function resetJob(say = true): Promise<void> {
  session.shutdown();
  session.status = "idle";
  session.problem = undefined;
  store.clear();
  const old = record?.database;
  record = undefined;
  persistRecord();
  if (old) {
    const req = indexedDB.deleteDatabase(old);
    req.onblocked = () => {};
  }
  editor.markLine(undefined);
  if (say) announce("Reset: the topics are empty and the state is gone.");
  dirty = true;
}

function bindControls(): void {
  $("run").addEventListener("click", () => void run());
  $("pause").addEventListener("click", async () => {
    if (session.status === "paused") return run();
    await session.pause();
    if (record) record.status = "paused";
    persistRecord();
    announce("Paused: Step runs one batch at a time; generators go on until the job lags 20 000 records.");
  });
  $("step").addEventListener("click", async () => {
    const n = await session.step();
    announce(`Stepped: ${n} record${n === 1 ? "" : "s"} read and committed.`);
  });
  $("drain").addEventListener("click", async () => {
    announce("Draining: the input ends, every open window and timer fires…");
    await session.drain();
    if (record) record.status = "stopped";
    persistRecord();
    if (session.status === "drained")
      announce("Drained: every window fired, the job stopped. Reset to start over.");
  });
  $("reset").addEventListener("click", () => void resetJob());
  $("share").addEventListener("click", async () => {
    const hash = await shareHash({ ...workspace, code: editor.text() });
    const url = `${location.href.split("#")[0]}${hash}`;
    history.replaceState(null, "", hash);
    const box = $<HTMLInputElement>("share-link");
    box.value = url;
    box.hidden = false;
    box.select();
    try {
      await navigator.clipboard.writeText(url);
      announce("Share link copied: it holds the pipeline and the generator settings.");
    } catch {
      announce("Share link ready in the box (copy it): it holds the pipeline and the generator settings.");
    }
  });
}

let lastLine = "";
let lastProblem: unknown;

function renderControls(): void {
  const s = session.status;
  const has = session.handle !== undefined;
  const set = (id: string, enabled: boolean) => {
    ($(id) as HTMLButtonElement).disabled = !enabled;
  };
  set(
    "run",
    s !== "starting" && s !== "drained" && s !== "running"
      ? true
      : s === "running" && record?.source !== editor.text(),
  );
  $("run").textContent =
    s === "paused" ? "Resume" : has && record?.source !== editor.text() ? "Run new code" : "Run";
  set("pause", has && (s === "running" || s === "paused"));
  $("pause").textContent = s === "paused" ? "Resume" : "Pause";
  set("step", has && s === "paused");
  set("drain", has && (s === "running" || s === "paused"));
  const m = session.metrics;
  const wm =
    m && Number.isFinite(m.watermark)
      ? ` · watermark ${new Date(m.watermark).toISOString().slice(11, 19)}`
      : "";
  const line = `${s}${m ? ` · ${m.records.in.toLocaleString("en-US")} records in${session.restored ? " since it resumed" : ""} · ${m.windowsFired} windows fired · ${m.checkpoints.count} commits${wm}` : ""}`;
  if (line !== lastLine) {
    lastLine = line;
    $("jobline").textContent = line;
  }
  if (session.problem !== lastProblem) {
    lastProblem = session.problem;
    const p = session.problem;
    if (!p) fill(problems);
    else {
      fill(
        problems,
        h(
          "strong",
          {},
          p.kind === "syntax" ? "Syntax error. " : p.kind === "timeout" ? "Stopped. " : "Error. ",
        ),
        p.message,
        p.line !== undefined
          ? h(
              "button",
              { type: "button", className: "secondary", onclick: () => goToLine(p.line!) },
              ` Go to line ${p.line}`,
            )
          : "",
      );
      if (p.line !== undefined && p.kind !== "syntax") editor.markLine(p.line, p.message);
      announce(p.kind === "timeout" ? "The job's worker was stopped." : "The job stopped with an error.");
    }
  }
}

function goToLine(line: number): void {
  const doc = editor.view.state.doc;
  const l = doc.line(Math.max(1, Math.min(doc.lines, line)));
  editor.view.dispatch({ selection: { anchor: l.from }, scrollIntoView: true });
  editor.view.focus();
}

let statusTimer = 0;
function frame(now: number): void {
  if (dirty || now - statusTimer > 500) {
    statusTimer = now;
    dirty = false;
    renderControls();
    renderAccounting();
    active.render();
  }
  requestAnimationFrame(frame);
}

async function main(): Promise<void> {
  const shared = await fromHash(location.hash);
  if (shared) {
    workspace = shared;
    saveWorkspace(shared);
    // A link is a fresh start: the job of the last visit is not resumed on other code.
    if (record) {
      const old = record.database;
      record = undefined;
      persistRecord();
      indexedDB.deleteDatabase(old);
    }
  }
  editor = createEditor($("editor"), workspace.code, {
    label: "Pipeline source (TypeScript)",
    onChange(text) {
      workspace.code = text;
      saveWorkspace(workspace);
      showSummary();
      dirty = true;
    },
    onRun: () => void run(),
  });
  fillExamples();
  syncSettings();
  bindSettings();
  bindControls();
  mountTabs();
  showSummary();
  requestAnimationFrame(frame);
  if (record && record.status !== "stopped") await start(false);
  else if (record) announce("The job is stopped: press Run to go on from its last commit, or Reset.");
  else
    announce(
      shared ? "Loaded a shared pipeline: press Run." : "Press Run to start the pipeline on its topics.",
    );
}

// For the console and the tests: read-only looks at what runs.
Object.assign(globalThis, {
  playground: {
    status: () => session.status,
    problem: () => session.problem,
    metrics: () => session.metrics,
    topics: () => session.topics,
    plan: () => session.plan,
    records: (topic: string) => session.records(topic),
    generators: () =>
      [...session.generators.values()].map((g) => ({
        topic: g.settings.topic,
        position: g.position,
        running: g.running,
        done: g.done,
      })),
    deadLetterTopic: DEAD_LETTER_TOPIC,
    store,
    query: (key: string | number) => session.query(key),
  },
});

void main();
