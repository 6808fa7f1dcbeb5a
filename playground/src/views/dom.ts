// Small DOM helpers for the views: elements from a tag, attributes and children; formatting.

type Child = Node | string | number | null | undefined | false;

/** An element with attributes (`on*` functions become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "className") el.className = String(v);
    else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
    else if (k === "checked" && "checked" in el) (el as HTMLInputElement).checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren(
    ...children
      .filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))),
  );
}

/** Event time as the views show it: UTC time of day, with milliseconds when they are not 0. */
export function time(ts: number): string {
  if (ts === Number.NEGATIVE_INFINITY) return "−∞";
  if (ts === Number.POSITIVE_INFINITY) return "+∞ (end)";
  if (!Number.isFinite(ts)) return "—";
  const iso = new Date(ts).toISOString();
  return iso.endsWith(".000Z") ? iso.slice(11, 19) : iso.slice(11, 23);
}

/** A value as short JSON. */
export function short(v: unknown, max = 120): string {
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function num(n: number): string {
  return n.toLocaleString("en-US");
}

export interface Colors {
  fg: string;
  muted: string;
  border: string;
  bg: string;
  accent: string;
  good: string;
  bad: string;
  warn: string;
  wm: string;
  series: string;
}

/** The page's colours (CSS variables), for canvases. */
export function colors(): Colors {
  const s = getComputedStyle(document.documentElement);
  const get = (name: string) => s.getPropertyValue(name).trim();
  return {
    fg: get("--fg"),
    muted: get("--muted"),
    border: get("--border"),
    bg: get("--panel"),
    accent: get("--accent"),
    good: get("--good"),
    bad: get("--bad"),
    warn: get("--warn"),
    wm: get("--wm"),
    series: get("--series"),
  };
}

/** A canvas sized for its box and the device's pixels; returns its 2D context and CSS size. */
export function sized(canvas: HTMLCanvasElement, height: number) {
  const width = Math.max(200, canvas.parentElement?.clientWidth ?? 600);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const g = canvas.getContext("2d")!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  return { g, width, height };
}
