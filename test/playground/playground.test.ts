// The playground end to end, as a visitor gets it: the built site served from a sub-path by a
// plain static server, in real Chromium (playwright-core). Each gallery example runs on its
// generators with a fixed seed and is drained; its outputs must be what the same pipeline
// writes in Node on the in-memory broker (the playground's row of the conformance matrix).
// Then: a syntax error at its line, a throwing function, an endless loop (the page stays
// responsive, the worker is stopped), a reload mid-run (resumed from IndexedDB, the output
// the uninterrupted one), and no console errors or failed requests throughout.
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { StoredRecord } from "rivulet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES, type Example } from "../../playground/src/examples.js";
import type { GeneratorSettings } from "../../playground/src/generators.js";
import { assertConforms } from "../conformance/compare.js";
import type { CaseRun, OutputRecord } from "../conformance/harness.js";
import {
  buildSite,
  launchChromium,
  ROOT,
  SITE,
  SUB_PATH,
  serveStatic,
  stopServer,
  watchProblems,
} from "./harness.js";
import { DEAD_LETTERS, runInNode } from "./oracle.js";

const SHOTS = join(ROOT, ".cache", "playground-screenshots");

let server: Server | undefined;
let browser: Browser | undefined;
let url = "";
let requests: string[] = [];
/** Console errors, page errors, failed requests: one list per page of the run. */
const problems: string[][] = [];

beforeAll(async () => {
  buildSite();
  mkdirSync(SHOTS, { recursive: true });
  const s = await serveStatic(SITE, SUB_PATH);
  server = s.server;
  url = s.url;
  requests = s.requests;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (server) await stopServer(server);
});

async function open(context?: BrowserContext, at = url): Promise<{ page: Page; context: BrowserContext }> {
  const ctx = context ?? (await browser!.newContext({ viewport: { width: 1400, height: 1000 } }));
  const page = await ctx.newPage();
  problems.push(watchProblems(page));
  await page.goto(at);
  await page.waitForSelector(".cm-editor");
  return { page, context: ctx };
}

type PlaygroundApi = {
  status(): string;
  problem(): { kind: string; message: string; line?: number } | undefined;
  metrics(): { records: CaseRun["counts"] & object } | undefined;
  topics(): { name: string; endOffsets: number[]; group: { lag: number[] } }[];
  plan(): { sources: string[]; outputs: string[] } | undefined;
  records(topic: string): Promise<StoredRecord[]>;
  generators(): { topic: string; position: number; running: boolean; done: boolean }[];
};

const api = <T>(page: Page, fn: (p: PlaygroundApi) => T | Promise<T>): Promise<T> =>
  page.evaluate(`(${fn.toString()})(globalThis.playground)`) as Promise<T>;

/** Sets a generator field through its form (as a visitor would). */
async function setField(page: Page, i: number, field: keyof GeneratorSettings, value: number): Promise<void> {
  const input = page.locator(`#gen-${i}-${field}`);
  await input.fill(String(value));
  await input.dispatchEvent("change");
}

async function until(page: Page, what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const state = await api(page, (p) => ({
        status: p.status(),
        problem: p.problem(),
        gens: p.generators(),
      }));
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state)}`);
    }
    await page.waitForTimeout(100);
  }
}

/** Every generator has made its events and the job has read them all. */
async function caughtUp(page: Page): Promise<boolean> {
  return api(page, (p) => {
    const gens = p.generators();
    const sources = p.plan()?.sources ?? [];
    const topics = p.topics().filter((t) => sources.includes(t.name));
    return (
      gens.length > 0 &&
      gens.every((g) => g.done) &&
      topics.length > 0 &&
      topics.every((t) => t.group.lag.every((l) => l === 0))
    );
  });
}

async function drain(page: Page): Promise<void> {
  await page.click("#drain");
  await until(page, "the drain", () => api(page, (p) => p.status() === "drained"));
}

/** The page's outputs (outputs of the plan and the dead letters) as the comparison reads them. */
async function pageRun(page: Page, counts: boolean): Promise<CaseRun> {
  const topics = await api(page, async (p) => {
    const names = [...(p.plan()?.outputs ?? []), "dead-letters"];
    const out: Record<string, StoredRecord[]> = {};
    for (const n of names) out[n] = await p.records(n);
    return out;
  });
  const run: CaseRun = { topics: {} };
  for (const [t, rs] of Object.entries(topics))
    run.topics[t] = rs.map(
      ({ partition, offset, key, value, timestamp, headers }): OutputRecord => ({
        partition,
        offset,
        key,
        value,
        timestamp,
        headers,
      }),
    );
  if (counts) {
    const m = await api(page, (p) => p.metrics()?.records);
    if (m) run.counts = m;
  }
  return run;
}

/** Loads an example from the gallery and bounds its generators (fixed seed: the example's). */
async function loadExample(
  page: Page,
  e: Example,
  limit: number,
  rate: number,
): Promise<GeneratorSettings[]> {
  await page.selectOption("#example", e.id);
  await expect.poll(() => page.locator("#example").inputValue()).toBe(e.id);
  const settings: GeneratorSettings[] = [];
  for (let i = 0; i < e.generators.length; i++) {
    await setField(page, i, "limit", limit);
    await setField(page, i, "rate", rate);
    settings.push({ ...e.generators[i]!, limit, rate });
  }
  return settings;
}

async function shot(page: Page, name: string, tab?: string): Promise<void> {
  if (tab) {
    await page.click(`#tab-${tab}`);
    await page.waitForTimeout(400);
  }
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  // The views' panel alone: small enough to keep in the repository (playground/screenshots/).
  if (tab) await page.locator(".right").screenshot({ path: join(SHOTS, `${name}-panel.png`) });
}

describe("the playground, built and served from a sub-path, in Chromium", () => {
  it("loads from the sub-path with its assets, under its Content-Security-Policy", async () => {
    const { page, context } = await open();
    expect(await page.title()).toBe("Rivulet playground");
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-eval");
    expect(await page.locator("#example option").count()).toBe(EXAMPLES.length + 1);
    expect(
      requests.every((r) => r.startsWith(SUB_PATH)),
      requests.join(", "),
    ).toBe(true);
    await shot(page, "editor");
    await context.close();
  });

  it("every gallery example, run on its generators, writes what Node writes on the in-memory broker", async () => {
    const { page, context } = await open();
    for (const e of EXAMPLES) {
      const limit = e.id.startsWith("nexmark") ? 2_500 : 1_200;
      const settings = await loadExample(page, e, limit, 4_000);
      await page.click("#run");
      await until(page, `${e.id}: input read`, () => caughtUp(page));
      if (e.id === "clicks-per-minute") {
        await shot(page, "topics", "topics");
        await shot(page, "watermarks", "timeline");
        await shot(page, "windows", "windows");
        await shot(page, "late-and-dead-letters", "late");
        await shot(page, "charts", "charts");
        // The editor beside the windows, at a size fit for the README.
        await page.setViewportSize({ width: 1120, height: 660 });
        await shot(page, "overview", "windows");
        await page.setViewportSize({ width: 1400, height: 1000 });
        await page.click("#tab-topics");
      }
      await drain(page);
      const got = await pageRun(page, true);
      const want = await runInNode(e.code, e.topics, settings, e.tasks);
      expect(got.counts?.in, e.id).toBe(limit * settings.length);
      assertConforms(`example "${e.id}" in the playground`, want, got);
      const written = Object.entries(got.topics).filter(([t]) => t !== DEAD_LETTERS);
      expect(
        written.reduce((n, [, rs]) => n + rs.length, 0),
        e.id,
      ).toBeGreaterThan(0);
    }
    await context.close();
  });

  it("a syntax error shows at its line, in the editor and in the message; nothing runs", async () => {
    const { page, context } = await open();
    await page.click(".cm-content");
    await page.keyboard.press("Control+a");
    await page.keyboard.press("Delete");
    // Inserted as typed text (insertText: no auto-closed brackets doubling the ones in it).
    const broken = [
      'import { Pipeline } from "rivulet";',
      "",
      'export default Pipeline.source("clicks")',
      "  .map((c) => ({ user: c.userId page: c.page }))",
      '  .to("out");',
    ].join("\n");
    await page.keyboard.insertText(broken);
    await page.click("#run");
    await expect.poll(() => page.locator("#problems").textContent()).toContain("Line 4");
    await page.waitForSelector(".cm-lintRange-error");
    // The marked range is on line 4 of the editor.
    const line = await page.evaluate(`(() => {
      const mark = document.querySelector(".cm-lintRange-error");
      return [...document.querySelectorAll(".cm-line")].findIndex((l) => l.contains(mark)) + 1;
    })()`);
    expect(line).toBe(4);
    expect(await api(page, (p) => p.status())).toBe("idle");
    await context.close();
  });

  it("a throwing user function: a clear message with the step and the line; the page goes on", async () => {
    const { page, context } = await open();
    await loadExample(page, EXAMPLES.find((e) => e.id === "filter-map")!, 0, 200);
    const code = [
      'import { Pipeline } from "rivulet";',
      "",
      'export default Pipeline.source<{ userId: string; ts: number }>("clicks", { timestamp: (c) => c.ts })',
      "  .map((c) => {",
      '    if (c.userId === "user-02") throw new Error("no user-02 here");',
      "    return c;",
      "  })",
      '  .to("out");',
    ].join("\n");
    await page.click(".cm-content");
    await page.keyboard.press("Control+a");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(code);
    await page.click("#run");
    await expect
      .poll(() => page.locator("#problems").textContent(), { timeout: 15_000 })
      .toContain("no user-02 here");
    const text = (await page.locator("#problems").textContent()) ?? "";
    expect(text).toContain("map");
    expect(text).toContain("line 5");
    expect(await api(page, (p) => p.status())).toBe("stopped");
    await context.close();
  });

  it("an endless loop: the page stays responsive, the worker is stopped with a message", async () => {
    const { page, context } = await open();
    await loadExample(page, EXAMPLES.find((e) => e.id === "filter-map")!, 0, 200);
    const code = [
      'import { Pipeline } from "rivulet";',
      "",
      'export default Pipeline.source<{ userId: string }>("clicks")',
      "  .filter((c) => {",
      "    while (c.userId) {}",
      "    return true;",
      "  })",
      '  .to("out");',
    ].join("\n");
    await page.click(".cm-content");
    await page.keyboard.press("Control+a");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(code);
    await page.click("#run");
    await until(page, "the job running", () =>
      api(page, (p) => p.status() !== "starting" && p.status() !== "idle"),
    );
    // While the worker spins, the page answers: frames keep coming, tabs switch.
    const gaps = await page.evaluate<number>(`new Promise((resolve) => {
      let last = performance.now();
      let worst = 0;
      const end = last + 1500;
      const f = (t) => {
        worst = Math.max(worst, t - last);
        last = t;
        if (t < end) requestAnimationFrame(f);
        else resolve(worst);
      };
      requestAnimationFrame(f);
    })`);
    // A blocked page would show one gap as long as the whole window; a loaded machine a few hundred ms.
    expect(gaps).toBeLessThan(1_000);
    await page.click("#tab-charts");
    expect(await page.locator("#tab-charts").getAttribute("aria-selected")).toBe("true");
    await expect
      .poll(() => page.locator("#problems").textContent(), { timeout: 15_000 })
      .toContain("endless loop");
    expect(await api(page, (p) => p.status())).toBe("stopped");
    expect(await api(page, (p) => p.problem()?.kind)).toBe("timeout");
    await context.close();
  });

  it("a reload mid-run resumes from IndexedDB: the output is the uninterrupted run's", async () => {
    const { page, context } = await open();
    const e = EXAMPLES.find((x) => x.id === "clicks-per-minute")!;
    const settings = await loadExample(page, e, 3_000, 1_000);
    await page.click("#run");
    await until(page, "half the input produced", () =>
      api(page, (p) => (p.generators()[0]?.position ?? 0) >= 1_000 && (p.metrics()?.records.in ?? 0) >= 500),
    );
    await page.reload();
    await page.waitForSelector(".cm-editor");
    await until(page, "the job resumed", () => api(page, (p) => p.status() === "running"));
    const resumedAt = await api(page, (p) => p.generators()[0]?.position ?? -1);
    expect(resumedAt).toBeGreaterThanOrEqual(1_000);
    expect(resumedAt).toBeLessThan(3_000);
    await until(page, "the rest read", () => caughtUp(page));
    await drain(page);
    const got = await pageRun(page, false); // counts: the second job counts only its part
    const want = await runInNode(e.code, e.topics, settings, e.tasks);
    assertConforms("clicks-per-minute reloaded mid-run", { topics: want.topics }, got);
    await context.close();
  });

  it("keyboard and screen readers: labelled controls, tabs with arrow keys, Run from the keyboard; light and dark", async () => {
    const { page, context } = await open();
    const unlabelled = await page.evaluate<
      string[]
    >(`[...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => !el.hidden && !(el.labels && el.labels.length > 0) && !el.getAttribute("aria-label") && !(el.textContent || "").trim())
      .map((el) => el.outerHTML.slice(0, 80))`);
    expect(unlabelled).toEqual([]);
    await page.focus("#tab-topics");
    await page.keyboard.press("ArrowRight");
    expect(await page.evaluate("document.activeElement.id")).toBe("tab-timeline");
    expect(await page.locator("#tab-timeline").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("#panel-timeline").isVisible()).toBe(true);
    // Ctrl+Enter in the editor runs the pipeline.
    await page.click(".cm-content");
    await page.keyboard.press("Control+Enter");
    await until(page, "running", () => api(page, (p) => p.status() === "running"));
    await page.focus("#pause");
    await page.keyboard.press("Enter");
    await until(page, "paused", () => api(page, (p) => p.status() === "paused"));
    await page.keyboard.press("Enter"); // the same button resumes
    await until(page, "running again", () => api(page, (p) => p.status() === "running"));
    // Keyed state, searched from the keyboard.
    await page.click("#tab-state");
    await until(page, "some input read", () => api(page, (p) => (p.metrics()?.records.in ?? 0) > 100));
    // Of the users seen last, those whose last record was a click have an open window.
    const keys = await page.evaluate<string[]>("[...globalThis.playground.store.keys.keys()].slice(-8)");
    let found = "";
    for (const key of keys.reverse()) {
      await page.fill("#state-key", key);
      await page.press("#state-key", "Enter");
      await expect.poll(() => page.locator(".state-out").textContent()).toContain(key);
      found = (await page.locator(".state-out").textContent()) ?? "";
      if (found.includes("window tumbling(60000)@clicks")) break;
    }
    expect(found).toContain("window tumbling(60000)@clicks");
    expect(found).toContain('"fired": false');
    const light = await page.evaluate("getComputedStyle(document.body).backgroundColor");
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await page.evaluate("getComputedStyle(document.body).backgroundColor");
    expect(dark).not.toBe(light);
    await page.click("#tab-windows");
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: join(SHOTS, "dark.png") });
    await page.emulateMedia({ colorScheme: "light" });
    await context.close();
  });

  it("a share link carries the pipeline and the generator settings; pause and step move one batch", async () => {
    const { page, context } = await open();
    const e = EXAMPLES.find((x) => x.id === "moving-average")!;
    await loadExample(page, e, 400, 500);
    await setField(page, 0, "seed", 7);
    await page.click("#share");
    await expect.poll(() => page.locator("#share-link").inputValue()).toMatch(/#w=[A-Za-z0-9_-]+$/);
    const link = await page.locator("#share-link").inputValue();
    const other = await open(undefined, link);
    expect(await other.page.locator(".cm-content").textContent()).toContain("sliding(60_000, 15_000)");
    expect(await other.page.locator("#gen-0-seed").inputValue()).toBe("7");
    expect(await other.page.locator("#gen-0-limit").inputValue()).toBe("400");
    await other.context.close();
    // Step: while paused, one poll of at most "records per partition per step" (200).
    await page.click("#run");
    await until(page, "running", () => api(page, (p) => p.status() === "running"));
    await page.click("#pause");
    await until(page, "paused", () => api(page, (p) => p.status() === "paused"));
    await until(page, "input waiting", () => api(page, (p) => p.generators()[0]?.done ?? false));
    const before = await api(page, (p) => p.metrics()?.records.in ?? 0);
    await page.click("#step");
    await until(
      page,
      "a step",
      () =>
        page.evaluate(`(globalThis.playground.metrics()?.records.in ?? 0) > ${before}`) as Promise<boolean>,
    );
    const after = await api(page, (p) => p.metrics()?.records.in ?? 0);
    expect(after - before).toBeGreaterThan(0);
    expect(after - before).toBeLessThanOrEqual(200);
    expect(await api(page, (p) => p.status())).toBe("paused");
    await context.close();
  });

  it("no console errors and no failed requests on any page", () => {
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.flat()).toEqual([]);
  });
});
