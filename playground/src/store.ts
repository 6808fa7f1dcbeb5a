// What the views draw, kept on the page: the tail of every topic, window firings, late records,
// dead letters, metric samples. Fed by the worker (subscriptions, metrics polls), read by the
// render loop; bounded, so a long run does not grow the page.
import type { Headers, JobMetrics } from "rivulet";
import type { TopicBatch } from "rivulet/browser";

/** A bounded list: the newest `capacity` items. */
export class Ring<T> {
  private items: T[] = [];
  constructor(readonly capacity: number) {}
  push(x: T): void {
    this.items.push(x);
    if (this.items.length > this.capacity * 1.5) this.items = this.items.slice(-this.capacity);
  }
  /** Oldest first. */
  list(): readonly T[] {
    return this.items.length > this.capacity ? this.items.slice(-this.capacity) : this.items;
  }
  last(): T | undefined {
    return this.items[this.items.length - 1];
  }
  get size(): number {
    return Math.min(this.items.length, this.capacity);
  }
  clear(): void {
    this.items = [];
  }
}

export interface Rec {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  ts: number;
  value: unknown;
  headers: Headers | undefined;
}

export interface WindowRow {
  key: string;
  start: number;
  end: number;
  value: unknown;
  /** Firings seen: more than one is a late update. */
  fires: number;
  topic: string;
  /** When it last fired (page clock), for highlighting. */
  at: number;
}

export interface LateRow extends Rec {
  /** The job's watermark when the page saw it. */
  watermark: number;
}

export interface Sample {
  /** Page clock, seconds. */
  t: number;
  inRate: number;
  outRate: number;
  /** Input produced to processed (ms), sampled: 0 when nothing was waiting. */
  latency: number | null;
  commitMs: number | null;
  lag: number;
  /** Event-time head minus the job's watermark (s). */
  eventLag: number | null;
}

const PER_PARTITION = 60;

export class Store {
  readonly topics = new Map<string, Map<number, Ring<Rec>>>();
  readonly counts = new Map<string, number>();
  readonly windows = new Map<string, WindowRow>();
  readonly late = new Ring<LateRow>(300);
  readonly dead = new Ring<Rec>(300);
  readonly samples = new Ring<Sample>(240);
  /** Keys seen lately (outputs and inputs), most recent last. */
  readonly keys = new Map<string, number>();
  /** Largest event time seen on the source topics. */
  head = Number.NEGATIVE_INFINITY;
  /** Bumped on every change; views redraw when it moved. */
  version = 0;
  lateTopics = new Set<string>();
  deadLetterTopic = "dead-letters";
  sources = new Set<string>();
  watermark = Number.NEGATIVE_INFINITY;

  clear(): void {
    this.topics.clear();
    this.counts.clear();
    this.windows.clear();
    this.late.clear();
    this.dead.clear();
    this.samples.clear();
    this.keys.clear();
    this.head = Number.NEGATIVE_INFINITY;
    this.watermark = Number.NEGATIVE_INFINITY;
    this.version++;
  }

  add(batch: TopicBatch): void {
    const { topic, partition } = batch;
    let parts = this.topics.get(topic);
    if (!parts) this.topics.set(topic, (parts = new Map()));
    let ring = parts.get(partition);
    if (!ring) parts.set(partition, (ring = new Ring(PER_PARTITION)));
    this.counts.set(topic, (this.counts.get(topic) ?? 0) + batch.values.length);
    const isSource = this.sources.has(topic);
    const now = performance.now();
    for (let i = 0; i < batch.values.length; i++) {
      const r: Rec = {
        topic,
        partition,
        offset: batch.offsets[i]!,
        key: batch.keys[i] ?? null,
        ts: batch.timestamps[i]!,
        value: batch.values[i],
        headers: batch.headers[i],
      };
      ring.push(r);
      if (isSource && r.ts > this.head) this.head = r.ts;
      if (r.key !== null) this.seenKey(r.key, now);
      if (topic === this.deadLetterTopic) this.dead.push(r);
      else if (this.lateTopics.has(topic)) this.late.push({ ...r, watermark: this.watermark });
      else if (!isSource) this.windowResult(r, now);
    }
    this.version++;
  }

  private seenKey(key: string, now: number): void {
    this.keys.delete(key);
    this.keys.set(key, now);
    if (this.keys.size > 500) this.keys.delete(this.keys.keys().next().value!);
  }

  /** A window result ({ key, start, end, value }): a firing, or a late firing again. */
  private windowResult(r: Rec, now: number): void {
    const v = r.value as { key?: unknown; start?: unknown; end?: unknown; value?: unknown } | null;
    if (
      !v ||
      typeof v !== "object" ||
      typeof v.start !== "number" ||
      typeof v.end !== "number" ||
      !("key" in v)
    )
      return;
    const key = String(v.key);
    const id = `${r.topic}\u0000${key}\u0000${v.start}\u0000${v.end}`;
    const row = this.windows.get(id);
    if (row) {
      row.fires++;
      row.value = v.value;
      row.at = now;
      this.windows.delete(id);
      this.windows.set(id, row);
    } else {
      this.windows.set(id, {
        key,
        start: v.start,
        end: v.end,
        value: v.value,
        fires: 1,
        topic: r.topic,
        at: now,
      });
      if (this.windows.size > 2_000) this.windows.delete(this.windows.keys().next().value!);
    }
  }

  sample(s: Sample): void {
    this.samples.push(s);
    this.version++;
  }

  setMetrics(m: JobMetrics): void {
    this.watermark = m.watermark;
  }
}
