// The pipeline editor: CodeMirror 6 with TypeScript highlighting, syntax errors from the same
// transpiler that makes the code the worker runs (sucrase), shown at their line as lint
// diagnostics, completion of Rivulet's API, and colours from the page's CSS variables (light
// and dark alike).
import { type CompletionContext, type CompletionResult, completeFromList } from "@codemirror/autocomplete";
import { javascript, typescriptLanguage } from "@codemirror/lang-javascript";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { type Diagnostic, forceLinting, linter, lintGutter, setDiagnostics } from "@codemirror/lint";
import { EditorState, type Extension, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { basicSetup } from "codemirror";
import { transpile } from "./transpile.js";

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.moduleKeyword, t.operatorKeyword], color: "var(--syn-keyword)" },
  { tag: [t.string, t.special(t.string), t.regexp], color: "var(--syn-string)" },
  { tag: [t.number, t.bool, t.null], color: "var(--syn-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--syn-comment)", fontStyle: "italic" },
  { tag: [t.typeName, t.className, t.namespace], color: "var(--syn-type)" },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: "var(--syn-function)" },
  { tag: [t.propertyName], color: "var(--syn-property)" },
  { tag: [t.definition(t.variableName)], color: "var(--syn-definition)" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", backgroundColor: "var(--editor-bg)", color: "var(--fg)" },
  ".cm-content": { caretColor: "var(--fg)", fontFamily: "var(--mono)" },
  ".cm-gutters": {
    backgroundColor: "var(--editor-gutter)",
    color: "var(--muted)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLine": { backgroundColor: "var(--editor-active)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--editor-active)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--editor-selection) !important",
  },
  "&.cm-focused": { outline: "2px solid var(--focus)" },
  ".cm-cursor": { borderLeftColor: "var(--fg)" },
  ".cm-tooltip": { backgroundColor: "var(--panel)", color: "var(--fg)", border: "1px solid var(--border)" },
  ".cm-diagnostic-error": { borderLeftColor: "var(--bad)" },
});

/** Names `import { ... } from "rivulet"` offers, for completion. */
const RIVULET_API = [
  ["Pipeline", "class", "Pipeline.source<T>(topic, { timestamp, watermark })"],
  ["tumbling", "function", "tumbling(size, offset?)"],
  ["sliding", "function", "sliding(size, slide, offset?)"],
  ["session", "function", "session(gap)"],
  ["count", "function", "count(): an aggregator"],
  ["sum", "function", "sum((v) => number)"],
  ["min", "function", "min((v) => number)"],
  ["max", "function", "max((v) => number)"],
  ["avg", "function", "avg((v) => number)"],
  ["topN", "function", "topN(n, (v) => number)"],
  ["valueState", "function", "valueState<V>(name, initial?)"],
  ["listState", "function", "listState<V>(name)"],
  ["mapState", "function", "mapState<K, V>(name)"],
  ["outputTag", "function", "outputTag<T>(name): a side output"],
  ["json", "function", "json<T>(): the default value serde"],
  ["text", "function", "text(): values as strings"],
  ["source", "method", 'Pipeline.source<T>("topic", { timestamp: (v) => v.ts })'],
  ["filter", "method", ".filter((v) => boolean)"],
  ["map", "method", ".map((v) => u)"],
  ["flatMap", "method", ".flatMap((v) => iterable)"],
  ["keyBy", "method", ".keyBy((v) => key)"],
  ["window", "method", ".window(tumbling(60_000), { allowedLateness, lateTo })"],
  ["aggregate", "method", ".aggregate(count()) or .aggregate({ n: count(), avg: avg(f) })"],
  ["reduce", "method", ".reduce((a, b) => c)"],
  ["process", "method", ".process({ onRecord(v, ctx) {}, onTimer(t, ctx) {} })"],
  ["join", "method", ".join(other, { between: [lo, hi] }, (l, r) => out)"],
  ["union", "method", ".union(...others)"],
  ["sideOutput", "method", ".sideOutput(tag)"],
  ["repartition", "method", ".repartition()"],
  ["uid", "method", '.uid("name"): a stable operator id'],
  ["to", "method", '.to("topic", { key })'],
  ["timers", "property", "ctx.timers.eventTime(ts) / processingTime(ts) / deleteEventTime(ts)"],
  ["emit", "method", "ctx.emit(value, timestamp?)"],
  ["output", "method", "ctx.output(tag, value)"],
  ["state", "method", "ctx.state(descriptor)"],
] as const;

const rivuletCompletions = completeFromList(
  RIVULET_API.map(([label, type, detail]) => ({ label, type, detail, boost: 1 })),
);

function completeRivulet(ctx: CompletionContext): CompletionResult | null | Promise<CompletionResult | null> {
  return rivuletCompletions(ctx);
}

const syntaxErrors = linter(
  (view): Diagnostic[] => {
    const r = transpile(view.state.doc.toString());
    if (r.ok) return [];
    const doc = view.state.doc;
    const from = Math.min(r.from, doc.length);
    const line = doc.lineAt(from);
    return [
      {
        from,
        to: Math.max(from, Math.min(line.to, from + 1)),
        severity: "error",
        message: `Line ${r.line}: ${r.message}`,
      },
    ];
  },
  { delay: 300 },
);

export interface Editor {
  view: EditorView;
  text(): string;
  setText(text: string): void;
  /** Marks a line as the place of a problem (a runtime error), or clears it. */
  markLine(line: number | undefined, message?: string): void;
  /** Lints now (the test and Run do not wait for the delay). */
  lintNow(): void;
}

export function createEditor(
  parent: HTMLElement,
  initial: string,
  options: { onChange: (text: string) => void; onRun: () => void; label: string },
): Editor {
  const extensions: Extension[] = [
    basicSetup,
    javascript({ typescript: true }),
    typescriptLanguage.data.of({ autocomplete: completeRivulet }),
    syntaxHighlighting(highlight),
    theme,
    lintGutter(),
    syntaxErrors,
    // Above basicSetup's Mod-Enter (insert a blank line).
    Prec.highest(
      keymap.of([
        {
          key: "Mod-Enter",
          run: () => {
            options.onRun();
            return true;
          },
        },
      ]),
    ),
    EditorView.contentAttributes.of({ "aria-label": options.label }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) options.onChange(u.state.doc.toString());
    }),
  ];
  const view = new EditorView({ parent, state: EditorState.create({ doc: initial, extensions }) });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    markLine(line, message) {
      if (line === undefined) {
        forceLinting(view);
        return;
      }
      const doc = view.state.doc;
      const l = doc.line(Math.max(1, Math.min(doc.lines, line)));
      view.dispatch(
        setDiagnostics(view.state, [
          { from: l.from, to: l.to, severity: "error", message: message ?? "here" },
        ]),
      );
    },
    lintNow: () => forceLinting(view),
  };
}
