// What the page keeps: the workspace (code, topics, generators, run settings) in localStorage,
// the running session beside it (which IndexedDB database, which code runs), and share links
// (the workspace compressed into the URL's hash).
import type { TaskMode } from "rivulet";
import { EXAMPLES, type Example } from "./examples.js";
import { type GeneratorSettings, normalizeGenerator } from "./generators.js";

export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface RunSettings {
  tasks: TaskMode;
  /** What a throwing user function does: fail the job, or dead-letter the record. */
  onError: "fail" | "dead-letter";
  /** Records per partition per poll: what one Step reads. */
  maxBatch: number;
}

export interface Workspace {
  v: 1;
  exampleId: string | undefined;
  code: string;
  topics: TopicSpec[];
  generators: GeneratorSettings[];
  run: RunSettings;
}

/** The job the page has started: survives a reload, which resumes it. */
export interface SessionRecord {
  database: string;
  /** The source the job runs (the editor may hold newer text). */
  source: string;
  status: "running" | "paused" | "stopped";
  /** Topics the generators were started on. */
  generatorsOn: string[];
  /** Records produced by hand per topic (a generator's position is its topic's count minus these). */
  manual: Record<string, number>;
}

const KEY = "rivulet-playground";
const SESSION_KEY = "rivulet-playground-session";

export function fromExample(e: Example): Workspace {
  return {
    v: 1,
    exampleId: e.id,
    code: e.code,
    topics: Object.entries(e.topics).map(([name, partitions]) => ({ name, partitions })),
    generators: e.generators.map((g) => ({ ...g })),
    run: { tasks: e.tasks, onError: "fail", maxBatch: 200 },
  };
}

/** A workspace from anything (storage, a link): what is missing or wrong gets defaults. */
export function normalizeWorkspace(x: unknown): Workspace | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const w = x as Partial<Workspace>;
  if (typeof w.code !== "string") return undefined;
  const topics = Array.isArray(w.topics)
    ? w.topics
        .filter((t): t is TopicSpec => typeof t?.name === "string")
        .map((t) => ({
          name: t.name,
          partitions: Math.max(1, Math.min(64, Math.round(Number(t.partitions) || 1))),
        }))
    : [];
  const generators = Array.isArray(w.generators)
    ? w.generators.filter((g) => typeof g?.topic === "string").map((g) => normalizeGenerator(g))
    : [];
  const run = w.run ?? ({} as Partial<RunSettings>);
  return {
    v: 1,
    exampleId: typeof w.exampleId === "string" ? w.exampleId : undefined,
    code: w.code,
    topics,
    generators,
    run: {
      tasks: run.tasks === "shared" ? "shared" : "per-partition",
      onError: run.onError === "dead-letter" ? "dead-letter" : "fail",
      maxBatch: Math.max(1, Math.min(10_000, Math.round(Number(run.maxBatch) || 200))),
    },
  };
}

export function loadWorkspace(): Workspace {
  try {
    const w = normalizeWorkspace(JSON.parse(localStorage.getItem(KEY) ?? "null"));
    if (w) return w;
  } catch {
    // A broken entry: start from the first example.
  }
  return fromExample(EXAMPLES.find((e) => e.id === "clicks-per-minute") ?? EXAMPLES[0]!);
}

export function saveWorkspace(w: Workspace): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(w));
  } catch {
    // Storage full or denied: the page works on, unsaved.
  }
}

export function loadSession(): SessionRecord | undefined {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null") as SessionRecord | null;
    return s && typeof s.database === "string" && typeof s.source === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(s: SessionRecord | undefined): void {
  try {
    if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
    else localStorage.removeItem(SESSION_KEY);
  } catch {
    // As above.
  }
}

const toBase64Url = (bytes: Uint8Array) => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const fromBase64Url = (text: string) => {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};

async function pipeThrough(
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

/** The workspace as a URL hash: `#w=` and its JSON, deflated, base64url. */
export async function shareHash(w: Workspace): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(w));
  return `#w=${toBase64Url(await pipeThrough(json, new CompressionStream("deflate-raw")))}`;
}

/** The workspace of a share link, or undefined (no link, or a broken one). */
export async function fromHash(hash: string): Promise<Workspace | undefined> {
  const m = /^#w=([A-Za-z0-9_-]+)$/.exec(hash);
  if (!m) return undefined;
  try {
    const json = await pipeThrough(fromBase64Url(m[1]!), new DecompressionStream("deflate-raw"));
    return normalizeWorkspace(JSON.parse(new TextDecoder().decode(json)));
  } catch {
    return undefined;
  }
}
