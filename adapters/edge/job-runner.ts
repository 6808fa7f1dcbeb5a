import {
  type Job,
  type JobMetrics,
  type Key,
  MemoryStateStore,
  type Pipeline,
  type RunForResult,
  type RunOptions,
  run,
  type StateStore,
} from "../../core/index.js";
import { RestProxyBroker, type RestProxyBrokerOptions } from "./rest-proxy-broker.js";

/** A job as an edge runtime runs it: request by request, a bounded piece of work each. */
export interface EdgeJobOptions {
  /** The Kafka REST proxy to read and write through. */
  proxy: RestProxyBrokerOptions;
  /** Consumer group: one job per group (a Durable Object per group keeps it so). */
  group: string;
  /**
   * Where checkpoints go, holding the offsets (the REST proxy keeps none the job could trust).
   * Default: in memory, lost with the isolate: only for trying things out.
   */
  state?: StateStore;
  /** What one pull does at most (default: 20 s, unbounded records); it then checkpoints. */
  step?: { maxMs?: number; maxRecords?: number };
  /** Further `run` options (dead-letter topic, error policy, batch size, retries ...). */
  run?: Omit<RunOptions, "broker" | "state" | "group" | "manual">;
}

/** What one pull did. */
export interface StepResult extends RunForResult {
  /** The checkpoint it ended with. */
  checkpoint: string | undefined;
}

/**
 * Holds one manual job across the requests of an isolate (or a Durable Object) and runs it a
 * bounded step at a time, one step at a time: overlapping calls wait for each other. The job is
 * made on first use and restores from the state store's latest checkpoint; a job that failed is
 * let go, and the next call makes a new one (restored the same way).
 *
 * @example
 * const runner = new JobRunner(perMinute, { proxy: { url }, group: "clicks", state });
 * const { records, caughtUp } = await runner.step();
 */
export class JobRunner {
  private job: Job | undefined;
  private broker: RestProxyBroker | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly state: StateStore;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly options: EdgeJobOptions,
  ) {
    this.state = options.state ?? new MemoryStateStore();
  }

  /** Reads, processes and writes for at most the step's limits, then checkpoints. */
  step(limits: { maxMs?: number; maxRecords?: number } = {}): Promise<StepResult> {
    return this.serially(async () => {
      const job = await this.current();
      const { maxMs = this.options.step?.maxMs ?? 20_000, maxRecords = this.options.step?.maxRecords } =
        limits;
      try {
        const r = await job.runFor(maxRecords === undefined ? { maxMs } : { maxMs, maxRecords });
        return { ...r, checkpoint: job.metrics().checkpoints.lastId };
      } catch (e) {
        await this.drop();
        throw e;
      }
    });
  }

  /** What the job holds for a key (`Job.query`); a numeric-looking key is tried as a number too. */
  query(key: string): Promise<Record<string, unknown>> {
    return this.serially(async () => {
      const job = await this.current();
      const found = job.query(key);
      if (Object.keys(found).length > 0 || key.trim() === "" || !Number.isFinite(Number(key))) return found;
      return job.query(Number(key) as Key);
    });
  }

  /** The job's metrics, or undefined before its first step. */
  metrics(): JobMetrics | undefined {
    return this.job?.metrics();
  }

  /** Stops the job (committing what it did) and closes its consumer instance. */
  close(): Promise<void> {
    return this.serially(async () => {
      const job = this.job;
      this.job = undefined;
      if (job) await job.stop().catch(() => {});
      await this.broker?.close();
      this.broker = undefined;
    });
  }

  private async current(): Promise<Job> {
    if (this.job && this.job.status !== "failed" && this.job.status !== "stopped") return this.job;
    await this.drop();
    this.broker = new RestProxyBroker(this.options.proxy);
    this.job = await run(this.pipeline, {
      // One checkpoint per step (runFor ends with one), not one per poll; and polls as large as
      // a proxy's answers (a poll is a produce request): measured in bench/README.md, "Edge".
      checkpointInterval: Number.POSITIVE_INFINITY,
      maxBatch: 10_000,
      ...this.options.run,
      broker: this.broker,
      state: this.state,
      group: this.options.group,
      manual: true,
    });
    return this.job;
  }

  private async drop(): Promise<void> {
    const broker = this.broker;
    this.job = undefined;
    this.broker = undefined;
    await broker?.close().catch(() => {});
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }
}
