import type { Broker, Consumer } from "../broker/broker.js";
import { OutputBuffer, offsetAt } from "../broker/records.js";
import { isRivuletError, RivuletError } from "../errors.js";
import type { Pipeline } from "../pipeline/builder.js";
import type { StateStore } from "../state/store.js";
import { type Clock, systemClock } from "../time/clock.js";
import type { Key, TopicPartition } from "../types.js";
import { Checkpointer, type CommitProtocol, type Guarantee } from "./checkpointer.js";
import { compile } from "./compile.js";
import { type Counters, type ErrorPolicy, RuntimeContext } from "./context.js";
import type { OperatorWatermark } from "./executor.js";
import { checkLimits, type Limits, valueBytes } from "./limits.js";
import { type RetryOptions, retrying } from "./retry.js";
import { createTasks, type TaskMode, type Tasks } from "./tasks.js";

export interface RunOptions {
  broker: Broker;
  /** Checkpoints go here; with it, outputs become visible only at checkpoints (exactly-once). */
  state?: StateStore;
  /** Malformed records and (with `onError: "dead-letter"`) failing ones go here. Default `rivulet-dlq`. */
  deadLetterTopic?: string;
  /** Consumer group; default `rivulet-<sink topics>`. Restarts with the same group resume. */
  group?: string;
  /** Processing time (default: the wall clock). */
  clock?: Clock;
  /** What a throwing user function does: stop the job (default) or dead-letter the record. */
  onError?: ErrorPolicy;
  /** Records per partition per poll (default 1000). Results never depend on it. */
  maxBatch?: number;
  /**
   * Minimum processing time between checkpoints when `state` is set (default 0: every batch).
   * A consumer that can hand out nothing more until the job commits (Kafka's holds its fetched
   * batches until then) gets its checkpoint sooner, so the job never idles on the interval.
   */
  checkpointInterval?: number;
  /** Create missing output topics (sinks, late, dead-letter) with the partitions of the first source. Default true. */
  createTopics?: boolean;
  /** Longest wait for new records before re-checking timers (ms, default 200). */
  pollInterval?: number;
  /**
   * `shared` (default, Flink's model): one set of operators for all partitions this process
   * holds, watermarks the minimum over all of them, `keyBy` shuffling in memory (any input).
   * `per-partition` (Kafka Streams' model): each partition number is a task with its own
   * operators, state and watermarks, so the output does not depend on how a group's members
   * share the partitions or hand them over. It needs co-partitioned input: source topics with
   * equal partition counts, records keyed by the `keyBy` key (or a `.repartition()`). Default:
   * the broker's `defaultTasks` (`per-partition` on Kafka), else `shared`.
   */
  tasks?: TaskMode;
  /**
   * Drive the job by hand: nothing runs until `step()`, `runFor()`, `flush()`, `drain()`. For
   * tests, request-scoped runtimes (an edge worker's invocation) and the playground's
   * step-by-step mode.
   */
  manual?: boolean;
  /** Retries of broker and state store calls that fail transiently (see {@link RetryOptions}). */
  retry?: RetryOptions;
  /** Bounds on record size, batch bytes, keys per operator, state per key (see {@link Limits}). */
  limits?: Limits;
  /**
   * Drop checkpointed state of operators the pipeline no longer has, instead of failing the
   * restore (Flink's `--allowNonRestoredState`). Default false.
   */
  allowNonRestoredState?: boolean;
}

/** What {@link Job.runFor} did. */
export interface RunForResult {
  /** Records read. */
  records: number;
  /** Whether it stopped because the input was all read (not because a limit was reached). */
  caughtUp: boolean;
}

export type JobStatus = "starting" | "running" | "draining" | "stopped" | "failed";

export interface PartitionMetrics extends TopicPartition {
  offset: number | undefined;
  highWatermark: number;
  lag: number;
  /** Per source reading this partition. */
  watermarks: { source: string; watermark: number; idle: boolean }[];
}

export interface JobMetrics {
  status: JobStatus;
  /**
   * What the job promises for its outputs, from its broker and state store: `at-least-once`
   * outputs carry a deterministic `rivulet.id` header, so a repeat is the same record.
   */
  guarantee: Guarantee;
  /** How it commits (see {@link CommitProtocol}). */
  protocol: CommitProtocol;
  /** Each record in is counted out once: emitted + filtered + aggregated + late + deadLettered = in. */
  records: Omit<Counters, "windowsFired">;
  windowsFired: number;
  /** Records written per topic (sinks, late outputs, dead letters). */
  produced: Record<string, number>;
  /** The job's event-time progress: the smallest watermark over its operators' inputs. */
  watermark: number;
  /**
   * Each event-time operator's (window, process, join) watermark, upstream first; one per task
   * with `per-partition` tasks.
   */
  operators: OperatorWatermark[];
  partitions: PartitionMetrics[];
  checkpoints: {
    count: number;
    lastId: string | undefined;
    lastAt: number | undefined;
    lastDurationMs: number | undefined;
  };
}

/**
 * Starts a pipeline. The returned job runs until `stop()`, `drain()` or an error.
 *
 * @example
 * const job = await run(perMinute, { broker, deadLetterTopic: "rivulet-dlq" });
 * await job.drain(); // bounded: process what is there, fire every window, write, stop
 */
export async function run(pipeline: Pipeline, options: RunOptions): Promise<Job> {
  const job = new Job(pipeline, options);
  await job.start();
  return job;
}

type Waiter = { resolve: () => void; reject: (e: unknown) => void };

/** A running pipeline. Commands are queued and carried out by the job's loop between batches. */
export class Job {
  readonly group: string;
  /** How the job divides its work (`RunOptions.tasks`). */
  readonly tasks: TaskMode;
  private readonly broker: Broker;
  private readonly clock: Clock;
  private readonly rt: RuntimeContext;
  private readonly exec: Tasks;
  private consumer: Consumer | undefined;
  private statusValue: JobStatus = "starting";
  private failure: unknown;
  private flushWaiters: Waiter[] = [];
  private checkpointWaiters: Waiter[] = [];
  private stopWaiters: Waiter[] = [];
  private drainRequested = false;
  private stopRequested = false;
  private wake: (() => void) | undefined;
  /** State sections loaded from checkpoints (or started empty) for the partitions held. */
  private readonly loaded = new Set<number>();
  private readonly checkpoints: Checkpointer;
  private lastCheckpointAt = Number.NEGATIVE_INFINITY;
  private uncommitted = false;
  /**
   * Counts what may make state or positions differ from the last checkpoint (records read,
   * processing-time work, a rebalance); `checkpointed` is its value the last checkpoint covered.
   */
  private changes = 1;
  private checkpointed = 0;
  /** The output buffer of the last commit, emptied: the next commit's (buffers are reused). */
  private spare: OutputBuffer | undefined;
  /** Resolves when the loop ends; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(
    pipeline: Pipeline,
    private readonly options: RunOptions,
  ) {
    if (!options || typeof options.broker !== "object" || options.broker === null)
      throw new RivuletError("INVALID_ARGUMENT", "run(pipeline, { broker }) needs a broker");
    this.group = options.group ?? `rivulet-${compile(pipeline).outputs.join("+")}`;
    const plan = compile(pipeline, { group: this.group });
    this.broker = options.broker;
    this.clock = options.clock ?? systemClock;
    this.rt = new RuntimeContext(
      this.clock,
      options.onError ?? "fail",
      options.deadLetterTopic ?? "rivulet-dlq",
      checkLimits(options.limits),
    );
    this.tasks = options.tasks ?? options.broker.defaultTasks ?? "shared";
    this.checkpoints = new Checkpointer(options.broker, options.state, this.group, options.retry, {
      allowNonRestoredState: options.allowNonRestoredState ?? false,
    });
    // Before the operators are built: sinks choose their code by it.
    this.rt.ids = this.checkpoints.ids;
    this.rt.internal = new Set([...plan.repartitions.values()].map((s) => s.topic));
    this.exec = createTasks(this.tasks, plan, this.rt);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => {}); // observed through the commands; never an unhandled rejection
  }

  get status(): JobStatus {
    return this.statusValue;
  }

  /** What the job promises for its outputs (see {@link JobMetrics.guarantee}). */
  get guarantee(): Guarantee {
    return this.checkpoints.guarantee;
  }

  /** @internal */
  async start(): Promise<void> {
    // Not retried: a job that cannot reach its broker at start says so at once (within the
    // broker's connection timeout), rather than after a round of retries.
    const broker = this.broker;
    const topics = this.exec.topics();
    const internal = this.rt.internal;
    let partitions: number | undefined;
    const counts = new Map<string, number>();
    for (const t of topics) {
      if (internal.has(t)) continue;
      const n = await broker.partitions(t);
      if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `source topic "${t}" does not exist`);
      partitions ??= n;
      counts.set(t, n);
      this.exec.sections = Math.max(this.exec.sections, n);
    }
    if (this.tasks === "per-partition" && new Set(counts.values()).size > 1)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `per-partition tasks need co-partitioned source topics, with equal partition counts: ${[...counts].map(([t, n]) => `"${t}" has ${n}`).join(", ")}`,
      );
    // Repartition topics have a partition per state section, so a key's records and its state meet.
    const create = async (t: string, n: number) => {
      if ((await broker.partitions(t)) === undefined) await broker.createTopic(t, { partitions: n });
    };
    for (const t of internal) await create(t, this.exec.sections);
    if (this.options.createTopics ?? true)
      for (const t of [...this.exec.plan.outputs, this.rt.deadLetterTopic]) await create(t, partitions ?? 1);
    await this.checkpoints.open(this.exec.sections);
    this.consumer = await broker.consumer({ group: this.group, topics });
    this.consumer.holdsUncommitted?.(() => this.rt.out.length > 0);
    this.consumer.onRebalance(async ({ assigned, revoked, lost }) => {
      this.changes++;
      if (lost) this.discard();
      if (revoked.length > 0) {
        // The revoked partitions' state leaves with a checkpoint; lost ones leave nothing.
        if (!lost) await this.commit(true);
        for (const tp of revoked) this.exec.removePartition(tp.topic, tp.partition);
        const gone = new Set([...this.loaded].filter((s) => !this.exec.ownedSections().has(s)));
        this.exec.dropSections(gone);
        for (const s of gone) this.loaded.delete(s);
      }
      const fresh = [...new Set(assigned.map((tp) => tp.partition))].filter((p) => !this.loaded.has(p));
      const committed = await this.checkpoints.restore(assigned, fresh, this.exec);
      for (const s of fresh) this.loaded.add(s);
      for (const part of this.exec.addPartitions(assigned, this.clock.now())) {
        if (part.offset !== undefined) this.consumer!.seek(part.topic, part.partition, part.offset);
        else {
          const known = committed.get(`${part.topic}\u0000${part.partition}`)?.offset;
          // Known from the start, so every held partition's commit names the checkpoint of its
          // section. A store that owns the offsets needs no name: a partition not yet read keeps
          // no offset rather than 0 (a broker that cannot tell its committed offsets must not
          // have them moved back).
          if (known !== undefined || this.checkpoints.protocol !== "store-owned") part.offset = known ?? 0;
        }
      }
    });
    this.statusValue = "running";
    if (!this.options.manual) void this.loop();
  }

  /** Manual mode: one poll and its batches. Resolves with the number of records read. */
  step(): Promise<number> {
    return this.manually(() => this.step1());
  }

  /**
   * Manual mode: a bounded piece of work, then a checkpoint (a commit, without a state store):
   * polls and processes until `maxRecords` are read, `maxMs` have passed (wall clock), or the
   * input is all read, whichever comes first. What a request-scoped runtime (an edge worker's
   * invocation, a cron trigger) does per call; the job stays open for the next.
   *
   * @example
   * const job = await run(pipeline, { broker, state, group: "clicks", manual: true });
   * const { records, caughtUp } = await job.runFor({ maxMs: 20_000, maxRecords: 50_000 });
   * await job.stop();
   */
  runFor(limits: { maxMs?: number; maxRecords?: number } = {}): Promise<RunForResult> {
    const maxMs = limits.maxMs ?? Number.POSITIVE_INFINITY;
    const maxRecords = limits.maxRecords ?? Number.POSITIVE_INFINITY;
    if (!(maxMs >= 0) || !(maxRecords >= 0))
      return Promise.reject(
        new RivuletError("INVALID_ARGUMENT", "runFor({ maxMs, maxRecords }) takes non-negative limits"),
      );
    return this.manually(async () => {
      const deadline = Date.now() + maxMs;
      let records = 0;
      let caughtUp = false;
      while (records < maxRecords && Date.now() < deadline) {
        const n = await this.step1(maxRecords - records);
        records += n;
        if (n === 0 && this.atEnd()) {
          if (!this.holdsRepartitioned()) {
            caughtUp = true;
            break;
          }
          await this.commit(true);
        }
      }
      // Not a second checkpoint of the same thing: when the last step's commit took one and
      // nothing has happened since (a slice that caught up), it stands.
      if (this.uncommitted || this.rt.out.length > 0 || this.changes !== this.checkpointed)
        await this.commit(true);
      return { records, caughtUp };
    });
  }

  private manualChain: Promise<unknown> = Promise.resolve();

  /** Serializes manual commands; a failure fails the job as the loop would. */
  private manually<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.options.manual)
      return Promise.reject(new RivuletError("INVALID_ARGUMENT", "step() needs run(..., { manual: true })"));
    const next = this.manualChain.then(async () => {
      if (this.statusValue === "failed") throw this.failure;
      if (this.statusValue === "stopped") throw new RivuletError("JOB_STOPPED", "the job has stopped");
      try {
        return await fn();
      } catch (e) {
        await this.fail(e);
        throw e;
      }
    });
    this.manualChain = next.catch(() => {});
    return next;
  }

  private async runUntilIdle(): Promise<void> {
    for (;;) {
      if ((await this.step1()) > 0 || !this.atEnd()) continue;
      // Records on their way through a repartition topic are input still to come.
      if (!this.holdsRepartitioned()) return;
      await this.commit(true);
    }
  }

  /**
   * Ends the input, as a bounded stream ends (every window and timer fires): source by source,
   * in repartition depth order, reading what each repartition topic got before its source ends.
   */
  private async endOfInput(): Promise<void> {
    this.statusValue = "draining";
    const deepest = Math.max(0, ...this.exec.plan.depth.values());
    for (let d = 0; d < deepest; d++) {
      this.exec.endOfInput(d);
      await this.commit(true);
      await this.runUntilIdle();
    }
    this.exec.endOfInput();
  }

  private holdsRepartitioned(): boolean {
    const internal = this.exec.plan.repartitions;
    if (internal.size === 0) return false;
    const topics = new Set([...internal.values()].map((s) => s.topic));
    return this.rt.out.writesTo(topics);
  }

  private atEnd(): boolean {
    return this.consumer?.atEnd?.() ?? true;
  }

  private async finish(): Promise<void> {
    await this.commit(true);
    await this.consumer!.close();
    this.statusValue = "stopped";
    this.settle.resolve();
  }

  /** Processes everything in the topics now, writes the results, resolves; the job keeps running. */
  flush(): Promise<void> {
    if (this.options.manual)
      return this.manually(async () => {
        await this.runUntilIdle();
        await this.commit(true);
      });
    return this.command(this.flushWaiters);
  }

  /**
   * Ends the job as a bounded stream (Flink's `stop --drain`): processes all input now in the
   * topics, fires every open window and event-time timer, writes, and stops.
   */
  drain(): Promise<void> {
    if (this.options.manual)
      return this.statusValue === "stopped"
        ? Promise.resolve()
        : this.manually(async () => {
            await this.runUntilIdle();
            await this.endOfInput();
            await this.finish();
          });
    this.drainRequested = true;
    return this.command(this.stopWaiters);
  }

  /** Takes a checkpoint at the next batch boundary (needs `state`). */
  checkpoint(): Promise<void> {
    if (!this.options.state)
      return Promise.reject(new RivuletError("STATE", "checkpoint() needs run(..., { state })"));
    if (this.options.manual) return this.manually(() => this.commit(true));
    return this.command(this.checkpointWaiters);
  }

  /** Stops after the current batch, committing what is done; open windows stay in the last checkpoint. */
  stop(): Promise<void> {
    if (this.options.manual)
      return this.statusValue === "stopped" ? Promise.resolve() : this.manually(() => this.finish());
    this.stopRequested = true;
    return this.command(this.stopWaiters);
  }

  /**
   * What the job's stateful steps hold for one key, by operator id (`Plan.id`; steps holding
   * nothing for it are left out): windows with their results so far, sessions, rolling results,
   * a process step's state and timers, join buffers. An interactive query, as Kafka Streams'
   * and Flink's queryable state: what the job holds now, in this process (not a checkpoint).
   *
   * @example
   * job.query("u1"); // { "window tumbling(60000)@clicks": [{ start: 0, end: 60000, fired: false, value: 3 }] }
   */
  query(key: Key): Record<string, unknown> {
    return this.exec.query(key);
  }

  metrics(): JobMetrics {
    const { windowsFired, ...records } = this.rt.counters;
    const produced: Record<string, number> = {};
    for (const [t, c] of this.rt.produced) produced[t] = c.n;
    return {
      status: this.statusValue,
      guarantee: this.checkpoints.guarantee,
      protocol: this.checkpoints.protocol,
      records,
      windowsFired,
      produced,
      watermark: this.exec.watermark(),
      operators: this.exec.operators(),
      partitions: [...this.exec.partitions.values()].map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        highWatermark: p.highWatermark,
        lag: Math.max(0, p.highWatermark - (p.offset ?? 0)),
        watermarks: p.inputs.map((i) => ({ source: i.source.node.label, watermark: i.wm, idle: i.idle })),
      })),
      checkpoints: { ...this.checkpoints.stats },
    };
  }

  private command(waiters: Waiter[]): Promise<void> {
    if (this.statusValue === "failed") return Promise.reject(this.failure);
    if (this.statusValue === "stopped") {
      return waiters === this.stopWaiters
        ? Promise.resolve()
        : Promise.reject(new RivuletError("JOB_STOPPED", "the job has stopped"));
    }
    const p = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    this.wake?.();
    return p;
  }

  private async loop(): Promise<void> {
    const consumer = this.consumer!;
    let lastYield = this.clock.now();
    try {
      for (;;) {
        if (this.stopRequested && !this.drainRequested) break;
        const flushing = this.flushWaiters.length;
        const n = await this.step1();
        if (n === 0 && (this.drainRequested || flushing > 0) && this.holdsRepartitioned()) {
          await this.commit(true);
          continue;
        }
        if (n > 0 || ((this.drainRequested || flushing > 0) && !this.atEnd())) {
          // Long backlogs must not starve timers and I/O of the host (status lines, UIs).
          if (Date.now() - lastYield > 20) {
            await new Promise<void>((r) => setTimeout(() => r(), 0));
            lastYield = Date.now();
          }
          continue;
        }
        if (this.drainRequested) {
          await this.endOfInput();
          break;
        }
        if (flushing > 0 || this.checkpointWaiters.length > 0) {
          await this.commit(true);
          resolveAll(this.flushWaiters.splice(0, flushing));
          resolveAll(this.checkpointWaiters.splice(0));
          continue;
        }
        await this.idle(consumer);
      }
      await this.finish();
      resolveAll(this.flushWaiters.splice(0));
      resolveAll(this.checkpointWaiters.splice(0));
      resolveAll(this.stopWaiters.splice(0));
    } catch (e) {
      await this.fail(e);
      for (const w of [...this.flushWaiters, ...this.checkpointWaiters, ...this.stopWaiters]) w.reject(e);
      this.flushWaiters = [];
      this.checkpointWaiters = [];
      this.stopWaiters = [];
    }
  }

  private async fail(e: unknown): Promise<void> {
    if (this.statusValue === "failed") return;
    this.statusValue = "failed";
    this.failure = e;
    await this.consumer?.close().catch(() => {});
    this.settle.reject(e);
  }

  /**
   * One poll: process the batches (at most `limit` records: the rest is left to read again),
   * processing-time work, commit if due. Returns records read.
   */
  private async step1(limit = Number.POSITIVE_INFINITY): Promise<number> {
    const consumer = this.consumer!;
    const maxRecords = Math.max(1, Math.min(this.options.maxBatch ?? 1000, limit));
    const batches = await retrying("polling", () => consumer.poll({ maxRecords }), this.options.retry);
    const now = this.clock.now();
    let n = 0;
    const maxBytes = this.rt.limits.maxBatchBytes;
    let bytes = 0;
    for (const b of batches) {
      const part = this.exec.partitions.get(`${b.topic}\u0000${b.partition}`);
      if (!part) continue;
      part.highWatermark = b.highWatermark;
      let end = Math.min(b.end, b.start + Math.max(0, limit - n));
      if (maxBytes !== undefined)
        // Within the poll's byte budget (at least one record of the poll): the rest is read again.
        for (let i = b.start; i < end; i++) {
          bytes += valueBytes(b.values[i]);
          if (bytes > maxBytes && (n > 0 || i > b.start)) {
            end = i;
            break;
          }
        }
      if (end < b.end) consumer.seek(b.topic, b.partition, offsetAt(b, end));
      if (end <= b.start) continue;
      this.exec.process(part, end === b.end ? b : { ...b, end }, now);
      n += end - b.start;
    }
    if (this.exec.onProcessingTime(this.clock.now()) || n > 0) this.changes++;
    if (n > 0 || this.rt.out.length > 0) this.uncommitted = true;
    await this.commit(false);
    return n;
  }

  private async idle(consumer: Consumer): Promise<void> {
    const now = this.clock.now();
    const deadline = this.exec.nextProcessingDeadline();
    const poll = this.options.pollInterval ?? 200;
    const waits: Promise<void>[] = [
      consumer.wait(poll),
      new Promise<void>((r) => {
        this.wake = r;
      }),
    ];
    if (deadline !== Number.POSITIVE_INFINITY) waits.push(this.clock.sleep(deadline - now));
    await Promise.race(waits);
    this.wake = undefined;
  }

  /**
   * Commits what was done since the last commit, as the job's checkpointer does it (see
   * {@link CommitProtocol}). With a state store, only at checkpoints (forced, or
   * `checkpointInterval` elapsed), except for outputs a protocol writes as they come.
   */
  private async commit(force: boolean): Promise<void> {
    if (!this.uncommitted && !force) return;
    if (!this.uncommitted && this.rt.out.length === 0 && !this.options.state) return;
    const state = this.options.state;
    const now = this.clock.now();
    const checkpoint =
      state !== undefined &&
      (force ||
        now - this.lastCheckpointAt >= (this.options.checkpointInterval ?? 0) ||
        this.consumer?.needsCommit?.() === true);
    if (state && !checkpoint && !(this.checkpoints.eager && this.rt.out.length > 0)) return;
    const changes = this.changes;
    const records = this.rt.out;
    this.rt.out = this.spare ?? new OutputBuffer();
    this.spare = undefined;
    try {
      await this.checkpoints.commit(records, this.exec, checkpoint, now);
    } catch (e) {
      // A member the group has given up on: nothing of this commit may land. The consumer
      // reports the partitions lost at its next poll, and this work is dropped with them.
      if (isRivuletError(e) && e.code === "PARTITIONS_LOST") return this.discard();
      throw e;
    }
    // The broker is done with the buffer: it holds the next commit's outputs.
    records.clear();
    this.spare = records;
    if (!state || checkpoint) this.uncommitted = false;
    if (checkpoint) {
      this.lastCheckpointAt = now;
      this.checkpointed = changes;
    }
  }

  /**
   * Drops the work since the last commit: the partitions it was done on belong to other
   * members now, which redo it from the last commit.
   */
  private discard(): void {
    this.rt.out.clear();
    this.uncommitted = false;
  }
}

function resolveAll(ws: Waiter[]): void {
  for (const w of ws) w.resolve();
}
