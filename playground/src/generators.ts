// The playground's event generators: clickstream, IoT sensor readings, lines of text and the
// Nexmark person/auction/bid stream (rivulet/testing's generator). Event `i` of a generator is a
// pure function of its settings and `i`, so a run can stop anywhere (a reload) and go on from the
// next index, and a test can make the very same records in Node. Event time is a function of the
// index too (`stepMs` apart from BASE_TIME); the rate only says how fast the page produces them.
// No DOM, no Node: the page and the tests import it alike.
import { type ProduceRecord, partitionForKey } from "rivulet";
import {
  type NexmarkEvent,
  nexmarkEvent,
  type ResolvedNexmarkConfig,
  resolveNexmarkConfig,
} from "rivulet/testing";

export const GENERATOR_KINDS = ["clickstream", "iot", "words", "nexmark"] as const;
export type GeneratorKind = (typeof GENERATOR_KINDS)[number];

export const GENERATOR_LABELS: Readonly<Record<GeneratorKind, string>> = {
  clickstream: "Clickstream (users clicking and viewing pages)",
  iot: "IoT sensor readings",
  words: "Lines of text",
  nexmark: "Nexmark: people, auctions, bids",
};

export interface GeneratorSettings {
  kind: GeneratorKind;
  /** The topic it writes (one generator per topic: its position is the topic's record count). */
  topic: string;
  seed: number;
  /** Events per second of wall-clock time. */
  rate: number;
  /** Event time between consecutive events (ms). */
  stepMs: number;
  /** Stop after this many events; 0: endless. */
  limit: number;
  /** Each event's time moves back by up to this much (ms): bounded disorder. */
  outOfOrderMs: number;
  /** Percent of events made late: their time moves back by `lateByMs` (plus up to a step). */
  latePct: number;
  lateByMs: number;
  /** Percent of events written as malformed JSON (they end up in the dead-letter topic). */
  malformedPct: number;
  /** The last this many partitions of the topic get nothing (they go idle). */
  idlePartitions: number;
  /** Distinct users / sensors / authors. */
  keys: number;
}

/** 2026-01-01T09:00:00Z: event time of event 0. */
export const BASE_TIME = Date.UTC(2026, 0, 1, 9, 0, 0);

export function defaultGenerator(kind: GeneratorKind, topic: string): GeneratorSettings {
  return {
    kind,
    topic,
    seed: 42,
    rate: kind === "nexmark" ? 200 : 50,
    stepMs: kind === "nexmark" ? 20 : kind === "words" ? 2_000 : 500,
    limit: 0,
    outOfOrderMs: kind === "nexmark" ? 0 : 2_000,
    latePct: 0,
    lateByMs: 30_000,
    malformedPct: 0,
    idlePartitions: 0,
    keys: kind === "iot" ? 6 : kind === "words" ? 4 : 12,
  };
}

/** Settings made safe to run (numbers in range, integers where they must be). */
export function normalizeGenerator(
  g: Partial<GeneratorSettings> & Pick<GeneratorSettings, "kind" | "topic">,
) {
  const d = defaultGenerator(g.kind, g.topic);
  const num = (v: unknown, fallback: number, min: number, max: number, int = true) => {
    const n = typeof v === "number" && Number.isFinite(v) ? v : fallback;
    const c = Math.min(max, Math.max(min, n));
    return int ? Math.round(c) : c;
  };
  return {
    kind: GENERATOR_KINDS.includes(g.kind) ? g.kind : "clickstream",
    topic: g.topic,
    seed: num(g.seed, d.seed, -(2 ** 31), 2 ** 31),
    rate: num(g.rate, d.rate, 1, 20_000),
    stepMs: num(g.stepMs, d.stepMs, 1, 3_600_000),
    limit: num(g.limit, d.limit, 0, 10_000_000),
    outOfOrderMs: num(g.outOfOrderMs, d.outOfOrderMs, 0, 3_600_000),
    latePct: num(g.latePct, d.latePct, 0, 100, false),
    lateByMs: num(g.lateByMs, d.lateByMs, 0, 86_400_000),
    malformedPct: num(g.malformedPct, d.malformedPct, 0, 100, false),
    idlePartitions: num(g.idlePartitions, d.idlePartitions, 0, 1_000),
    keys: num(g.keys, d.keys, 1, 10_000),
  } satisfies GeneratorSettings;
}

export interface Click {
  userId: string;
  kind: "click" | "view";
  page: string;
  ts: number;
}

export interface Reading {
  sensorId: string;
  temperature: number;
  humidity: number;
  ts: number;
}

export interface Line {
  author: string;
  text: string;
  ts: number;
}

/** mulberry32 seeded from (seed, index, salt): a stream of numbers in [0, 1) per event. */
function randomFor(seed: number, index: number, salt = 0): () => number {
  let h =
    Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ Math.imul(salt, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  let s = h ^ (h >>> 13);
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether key `k` is away in the `slotMs` slot holding `ts` (one slot in `every`): gaps for sessions and timers. */
function away(seed: number, k: number, ts: number, slotMs: number, every: number): boolean {
  const slot = Math.floor(ts / slotMs);
  return Math.floor(randomFor(seed, slot, k + 1)() * every) === 0;
}

const WORDS = (
  "the stream never ends but every window does a watermark says no record older than this " +
  "is expected late records still come and wait for the allowed lateness or go to a side output " +
  "event time is when it happened processing time is when we saw it keyed state lives with its partition"
).split(" ");

const PAGES = ["/", "/pricing", "/docs", "/docs/windows", "/docs/watermarks", "/blog", "/signup"];

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Key pool of a kind, restricted to keys Kafka's partitioner puts on non-idle partitions. */
function keyPool(g: GeneratorSettings, partitions: number): string[] {
  const prefix = g.kind === "iot" ? "sensor-" : g.kind === "words" ? "author-" : "user-";
  const all = Array.from({ length: g.keys }, (_, i) => `${prefix}${pad(i + 1)}`);
  const active = Math.max(1, partitions - g.idlePartitions);
  if (active >= partitions) return all;
  const kept = all.filter((k) => partitionForKey(k, partitions) < active);
  return kept.length > 0 ? kept : all;
}

/** A generator bound to its topic's partition count: `record(i)` is event i. */
export class EventSource {
  private readonly pool: string[];
  private readonly nexmark: ResolvedNexmarkConfig | undefined;

  constructor(
    readonly settings: GeneratorSettings,
    readonly partitions: number,
  ) {
    this.pool = keyPool(settings, partitions);
    if (settings.kind === "nexmark")
      this.nexmark = resolveNexmarkConfig({
        seed: settings.seed,
        baseTime: BASE_TIME,
        firstEventRate: 1_000 / settings.stepMs,
        numEvents: 0,
      });
  }

  /** Whether event `index` is past the limit. */
  done(index: number): boolean {
    return this.settings.limit > 0 && index >= this.settings.limit;
  }

  /** Events `from .. from + n - 1` (stopping at the limit). */
  batch(from: number, n: number): ProduceRecord[] {
    const end = this.settings.limit > 0 ? Math.min(from + n, this.settings.limit) : from + n;
    const out: ProduceRecord[] = [];
    for (let i = from; i < end; i++) out.push(this.record(i));
    return out;
  }

  /** Event time of event `index` before any disorder. */
  baseTime(index: number): number {
    return BASE_TIME + index * this.settings.stepMs;
  }

  record(index: number): ProduceRecord {
    const g = this.settings;
    const rnd = randomFor(g.seed, index);
    const base = this.baseTime(index);
    let ts = base - Math.floor(rnd() * (g.outOfOrderMs + 1));
    if (rnd() * 100 < g.latePct) ts = base - g.lateByMs - Math.floor(rnd() * g.stepMs);
    ts = Math.max(0, ts);
    const malformed = rnd() * 100 < g.malformedPct;
    let key: string;
    let value: unknown;
    let partition: number | undefined;
    switch (g.kind) {
      case "clickstream": {
        const here = this.pool.filter((_, k) => !away(g.seed, k, base, 40_000, 3));
        const from = here.length > 0 ? here : this.pool;
        key = from[Math.floor(rnd() ** 1.5 * from.length)]!;
        const click: Click = {
          userId: key,
          kind: rnd() < 0.75 ? "click" : "view",
          page: PAGES[Math.floor(rnd() * PAGES.length)]!,
          ts,
        };
        value = click;
        break;
      }
      case "iot": {
        const here = this.pool.filter((_, k) => !away(g.seed, k, base, 60_000, 5));
        const from = here.length > 0 ? here : this.pool;
        const k = Math.floor(rnd() * from.length);
        key = from[k]!;
        const n = this.pool.indexOf(key);
        const wave = Math.sin(base / 600_000 + n) * 4;
        const reading: Reading = {
          sensorId: key,
          temperature: Math.round((20 + n + wave + (rnd() - 0.5) * 2) * 10) / 10,
          humidity: Math.round(40 + rnd() * 20),
          ts,
        };
        value = reading;
        break;
      }
      case "words": {
        key = this.pool[Math.floor(rnd() * this.pool.length)]!;
        const len = 3 + Math.floor(rnd() * 6);
        const words: string[] = [];
        for (let w = 0; w < len; w++) words.push(WORDS[Math.floor(rnd() ** 2 * WORDS.length)]!);
        const line: Line = { author: key, text: words.join(" "), ts };
        value = line;
        break;
      }
      case "nexmark": {
        const e = nexmarkEvent(this.nexmark!, index);
        key = String(e.kind === "person" ? e.person.id : e.kind === "auction" ? e.auction.id : e.bid.auction);
        value = retime(e, ts);
        // Nexmark's keys are its ids: idle partitions get nothing by placing records on the others.
        if (g.idlePartitions > 0 && this.partitions > 1)
          partition = partitionForKey(key, Math.max(1, this.partitions - g.idlePartitions));
        break;
      }
    }
    const r: ProduceRecord = { key, value: malformed ? garble(value) : value, timestamp: ts };
    if (partition !== undefined) r.partition = partition;
    return r;
  }
}

/** A Nexmark event at another event time (its payload's dateTime too). */
function retime(e: NexmarkEvent, ts: number): NexmarkEvent {
  if (e.timestamp === ts) return e;
  switch (e.kind) {
    case "person":
      return { kind: "person", timestamp: ts, person: { ...e.person, dateTime: ts } };
    case "auction":
      return { kind: "auction", timestamp: ts, auction: { ...e.auction, dateTime: ts } };
    case "bid":
      return { kind: "bid", timestamp: ts, bid: { ...e.bid, dateTime: ts } };
  }
}

/** JSON cut short: what a flaky producer writes. */
function garble(value: unknown): string {
  const s = JSON.stringify(value);
  return s.slice(0, Math.max(2, Math.floor(s.length * 0.6)));
}
