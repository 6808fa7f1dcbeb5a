// The page's side of a running pipeline: the worker (started through rivulet/browser), its
// subscriptions feeding the store, a metrics poll that doubles as the heartbeat (a worker that
// stops answering is stopped: an endless loop in user code never freezes the page), and the
// generators producing into its topics.
import type { JobMetrics, PlanDescription, ProduceRecord } from "rivulet";
import { startWorker, type TopicInfo, type WorkerJobHandle } from "rivulet/browser";
import { EventSource, type GeneratorSettings } from "./generators.js";
import workerUrl from "./job.worker.ts?worker&url";
import type { Store } from "./store.js";
import { userLine } from "./user-module.js";
import type { RunSettings, TopicSpec } from "./workspace.js";

export type Status = "idle" | "starting" | "running" | "paused" | "drained" | "stopped";

export interface Problem {
  kind: "syntax" | "module" | "runtime" | "timeout" | "storage";
  message: string;
  /** Line in the editor's source, when known. */
  line?: number;
}

/** How long the worker may take to answer before the page calls it stuck and stops it. */
export const ANSWER_TIMEOUT_MS = 5_000;
/** Starting may take longer: IndexedDB opens and loads the topics. */
const START_TIMEOUT_MS = 15_000;
export const DEAD_LETTER_TOPIC = "dead-letters";

class Timeout extends Error {}

/** One generator feeding a topic at its rate, from its position. */
export class GeneratorRunner {
  private timer: ReturnType<typeof setInterval> | undefined;
  private inflight = false;
  private startedAt = 0;
  private startPosition = 0;
  readonly source: EventSource;
  position: number;
  error: string | undefined;

  constructor(
    readonly settings: GeneratorSettings,
    partitions: number,
    position: number,
    private readonly produce: (topic: string, records: ProduceRecord[]) => Promise<unknown>,
  ) {
    this.source = new EventSource(settings, partitions);
    this.position = position;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  get done(): boolean {
    return this.source.done(this.position);
  }

  start(): void {
    if (this.timer || this.done) return;
    this.startedAt = performance.now();
    this.startPosition = this.position;
    this.timer = setInterval(() => this.tick(), 50);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.inflight) return;
    if (this.done) {
      this.stop();
      return;
    }
    const due = Math.floor(((performance.now() - this.startedAt) * this.settings.rate) / 1000);
    const n = Math.min(5_000, this.startPosition + due - this.position);
    if (n <= 0) return;
    const records = this.source.batch(this.position, n);
    this.inflight = true;
    this.produce(this.settings.topic, records).then(
      () => {
        this.position += records.length;
        this.inflight = false;
      },
      (e: unknown) => {
        this.error = e instanceof Error ? e.message : String(e);
        this.inflight = false;
        this.stop();
      },
    );
  }
}

export interface StartOptions {
  js: string;
  database: string;
  topics: readonly TopicSpec[];
  run: RunSettings;
}

export class Session {
  handle: WorkerJobHandle | undefined;
  plan: PlanDescription | undefined;
  metrics: JobMetrics | undefined;
  topics: TopicInfo[] = [];
  status: Status = "idle";
  problem: Problem | undefined;
  restored = false;
  /** The job keeps its topics and state in memory: this browser gave it no IndexedDB. */
  inMemory = false;
  readonly generators = new Map<string, GeneratorRunner>();
  private poll: ReturnType<typeof setInterval> | undefined;
  private pending: { since: number; what: string } | undefined;
  private subscribed = new Set<string>();
  private lastMetricsAt = 0;
  private lastIn = 0;
  private lastOut = 0;
  private topicsAt = 0;
  /** Produced input not yet processed: when each produce resolved and the count it reached. */
  private waiting: { topic: string; upTo: number; at: number }[] = [];
  private producedCount = new Map<string, number>();
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly changed: () => void,
  ) {}

  /** Starts the worker on `database` (resuming what is in it) with the transpiled pipeline. */
  async start(o: StartOptions): Promise<void> {
    this.shutdown();
    const generation = ++this.generation;
    this.status = "starting";
    this.problem = undefined;
    this.changed();
    this.store.clear();
    this.store.deadLetterTopic = DEAD_LETTER_TOPIC;
    let handle: WorkerJobHandle | undefined;
    const launch = (persist: boolean) =>
      startWorker(workerUrl, {
        database: o.database,
        persist,
        topics: Object.fromEntries(o.topics.map((t) => [t.name, t.partitions])),
        maxLag: 20_000,
        params: { js: o.js },
        run: {
          deadLetterTopic: DEAD_LETTER_TOPIC,
          tasks: o.run.tasks,
          onError: o.run.onError,
          maxBatch: o.run.maxBatch,
        },
      });
    for (const persist of [true, false]) {
      const started = launch(persist);
      try {
        handle = await this.guard(started, START_TIMEOUT_MS, "starting the pipeline");
        this.inMemory = !persist;
        break;
      } catch (e) {
        void started.then(
          (h) => h.terminate(),
          () => {},
        );
        // No IndexedDB here (some private windows): the job runs in memory, gone with the page.
        const noStorage =
          (e as { code?: string }).code === "STATE" && /not available/.test(String((e as Error).message));
        if (persist && noStorage && generation === this.generation) continue;
        if (generation === this.generation) this.fail(e, "starting the pipeline");
        return;
      }
    }
    if (!handle) return;
    if (generation !== this.generation) return handle.terminate();
    this.handle = handle;
    this.restored = handle.started.restored;
    handle.worker.addEventListener("error", (e) => e.preventDefault());
    try {
      this.plan = await this.guard(handle.describe(), ANSWER_TIMEOUT_MS, "describing the pipeline");
      this.store.sources = new Set(this.plan.sources);
      this.store.lateTopics = new Set(this.plan.steps.flatMap((s) => (s.lateTo ? [s.lateTo] : [])));
      await this.refreshTopics();
    } catch (e) {
      if (this.handle === handle) this.fail(e, "starting the pipeline");
      return;
    }
    this.status = "running";
    this.poll = setInterval(() => this.tick(), 250);
    this.changed();
  }

  /** Kills the worker at once (as a crash would: what was committed stays in IndexedDB). */
  shutdown(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    for (const g of this.generators.values()) g.stop();
    this.generators.clear();
    this.handle?.terminate();
    this.handle = undefined;
    this.pending = undefined;
    this.subscribed.clear();
    this.waiting = [];
    this.producedCount.clear();
    this.plan = undefined;
    this.metrics = undefined;
    this.topics = [];
    this.lastMetricsAt = 0;
  }

  async pause(): Promise<void> {
    await this.command(() => this.handle!.pause(), "pausing");
    if (this.handle) this.status = "paused";
    this.changed();
  }

  async resume(): Promise<void> {
    await this.command(() => this.handle!.resume(), "resuming");
    if (this.handle) this.status = "running";
    this.changed();
  }

  /** One poll of the job (up to `maxBatch` records per partition) and its commit. */
  async step(): Promise<number> {
    const n = await this.command(() => this.handle!.step(), "stepping");
    await this.sampleMetrics();
    return n ?? 0;
  }

  /** Ends the input: processes what is there, fires every window and timer, commits, stops. */
  async drain(): Promise<void> {
    for (const g of this.generators.values()) g.stop();
    this.status = "starting";
    this.changed();
    await this.command(() => this.handle!.drain(), "draining", 30_000);
    if (!this.handle) return;
    clearInterval(this.poll);
    this.poll = undefined;
    await this.sampleMetrics();
    await this.refreshTopics();
    this.status = "drained";
    this.changed();
  }

  async produce(topic: string, records: ProduceRecord[]): Promise<void> {
    const h = this.handle;
    if (!h) throw new Error("the job is not running: press Run first (its topics live in its worker)");
    await h.produce(topic, records);
    const upTo = (this.producedCount.get(topic) ?? 0) + records.length;
    this.producedCount.set(topic, upTo);
    if (this.store.sources.has(topic)) this.waiting.push({ topic, upTo, at: performance.now() });
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    await this.command(() => this.handle!.createTopic(name, partitions), "creating a topic");
    await this.refreshTopics();
  }

  async query(key: string | number): Promise<Record<string, unknown> | undefined> {
    return this.command(() => this.handle!.query(key), "querying state");
  }

  async records(topic: string) {
    return this.command(() => this.handle!.records(topic), "reading a topic");
  }

  /** A generator for `settings` at the position its topic's record count gives (minus hand-made ones). */
  addGenerator(settings: GeneratorSettings, manual: number): GeneratorRunner | undefined {
    const info = this.topics.find((t) => t.name === settings.topic);
    if (!info || !this.handle) return undefined;
    const position = Math.max(0, info.endOffsets.reduce((a, b) => a + b, 0) - manual);
    this.generators.get(settings.topic)?.stop();
    const g = new GeneratorRunner(settings, info.partitions, position, (t, r) => this.produce(t, r));
    this.generators.set(settings.topic, g);
    return g;
  }

  private async command<T>(
    fn: () => Promise<T>,
    what: string,
    ms = ANSWER_TIMEOUT_MS,
  ): Promise<T | undefined> {
    const h = this.handle;
    if (!h) return undefined;
    try {
      return await this.guard(fn(), ms, what);
    } catch (e) {
      // A worker already stopped (by the watchdog, say) rejects what was in flight: its problem stands.
      if (this.handle === h) this.fail(e, what);
      return undefined;
    }
  }

  /** Rejects when `p` takes longer than `ms`; the caller then stops the worker. */
  private guard<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Timeout(what)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** A failure: the worker is stopped and the problem said plainly; topics and state stay for the next Run. */
  fail(e: unknown, what: string): void {
    this.shutdown();
    this.status = "stopped";
    if (e instanceof Timeout) {
      this.problem = {
        kind: "timeout",
        message: `The pipeline did not answer for ${Math.round(ANSWER_TIMEOUT_MS / 1000)} s while ${what}: an endless loop in your code? Its worker was stopped; the page was never blocked. Fix the code and press Run: topics and state go on from the last commit.`,
      };
    } else {
      const err = e as { name?: string; message?: string; code?: string; step?: string };
      const line = userLine(e);
      const kind: Problem["kind"] =
        err.code === "USER_FUNCTION" ? "runtime" : err.code === "STATE" ? "storage" : "module";
      const message = err.message ?? String(e);
      this.problem = {
        kind,
        message: `${kind === "runtime" ? "Your code threw while running" : `Failed while ${what}`}: ${message}${line ? ` (line ${line})` : ""}`,
      };
      if (line !== undefined) this.problem.line = line;
    }
    this.changed();
  }

  /** Every 250 ms: metrics (the heartbeat), topics every second, new topics subscribed. */
  private tick(): void {
    const now = performance.now();
    if (this.pending) {
      if (now - this.pending.since > ANSWER_TIMEOUT_MS)
        this.fail(new Timeout(this.pending.what), this.pending.what);
      return;
    }
    void this.sampleMetrics();
    if (now - this.topicsAt > 1_000) {
      this.topicsAt = now;
      const h = this.handle;
      void this.refreshTopics().catch((e: unknown) => {
        if (this.handle === h) this.fail(e, "listing topics");
      });
    }
  }

  private async sampleMetrics(): Promise<void> {
    const h = this.handle;
    if (!h || this.pending) return;
    this.pending = { since: performance.now(), what: "processing records" };
    let m: JobMetrics;
    try {
      m = await h.metrics();
    } catch (e) {
      if (this.handle === h) this.fail(e, "processing records");
      return;
    } finally {
      if (this.handle === h) this.pending = undefined;
    }
    if (this.handle !== h) return;
    const now = performance.now();
    this.metrics = m;
    this.store.setMetrics(m);
    const out = Object.values(m.produced).reduce((a, b) => a + b, 0);
    const dt = (now - this.lastMetricsAt) / 1000;
    if (this.lastMetricsAt > 0 && dt > 0.05) {
      const processed = new Map<string, number>();
      for (const p of m.partitions) processed.set(p.topic, (processed.get(p.topic) ?? 0) + (p.offset ?? 0));
      let latency: number | null = null;
      while (this.waiting.length > 0 && this.waiting[0]!.upTo <= (processed.get(this.waiting[0]!.topic) ?? 0))
        latency = Math.max(latency ?? 0, now - this.waiting.shift()!.at);
      this.store.sample({
        t: Date.now() / 1000,
        inRate: Math.max(0, (m.records.in - this.lastIn) / dt),
        outRate: Math.max(0, (out - this.lastOut) / dt),
        latency,
        commitMs: m.checkpoints.lastDurationMs ?? null,
        lag: m.partitions.reduce((n, p) => n + p.lag, 0),
        eventLag:
          Number.isFinite(this.store.head) && Number.isFinite(m.watermark)
            ? Math.max(0, (this.store.head - m.watermark) / 1000)
            : null,
      });
    }
    this.lastMetricsAt = now;
    this.lastIn = m.records.in;
    this.lastOut = out;
    this.changed();
  }

  private async refreshTopics(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    const topics = await this.guard(h.topics(), ANSWER_TIMEOUT_MS, "listing topics");
    if (this.handle !== h) return;
    this.topics = topics;
    for (const t of topics) {
      if (!this.producedCount.has(t.name))
        this.producedCount.set(
          t.name,
          t.endOffsets.reduce((a, b) => a + b, 0),
        );
      if (this.subscribed.has(t.name)) continue;
      this.subscribed.add(t.name);
      await this.guard(
        h.subscribe(t.name, (b) => this.store.add(b), "beginning"),
        ANSWER_TIMEOUT_MS,
        "subscribing to a topic",
      );
    }
    this.changed();
  }
}
