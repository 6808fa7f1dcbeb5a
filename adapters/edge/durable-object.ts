import type { Pipeline } from "../../core/index.js";
import { edgeApp } from "./app.js";
import { type EdgeJobOptions, JobRunner } from "./job-runner.js";
import { type DurableObjectStorageLike, durableObjectStorage, KeyValueStateStore } from "./kv-state-store.js";

/** The part of a Durable Object's state (`ctx`) the job object uses. */
export interface DurableObjectStateLike {
  storage: DurableObjectStorageLike & {
    getAlarm(): Promise<number | null>;
    setAlarm(time: number): Promise<void>;
  };
}

export interface JobObjectOptions extends Omit<EdgeJobOptions, "state"> {
  /** Keep pulling on its own: an alarm every this many ms after each step (off unless given). */
  alarmEveryMs?: number;
}

/**
 * A Durable Object class that runs one job (a pipeline, or a function of the bindings that makes
 * it): one object per consumer group (`idFromName(group)`)
 * is what keeps two invocations off the same partitions at once, on every machine of the
 * platform; within the object, steps run one after another. Its checkpoints, offsets included,
 * go to the object's storage, one storage transaction per checkpoint. It answers `POST /run`
 * (one bounded step; `{ maxMs?, maxRecords? }`), `GET /state/:key`, `GET /metrics`: the routes
 * an {@link edgeApp} forwards to it. With `alarmEveryMs` it also pulls on its own.
 *
 * @example
 * // worker.ts
 * export const ClicksJob = jobObject<Env>(perMinute, (env) => ({
 *   proxy: { url: env.KAFKA_REST_URL, token: env.KAFKA_REST_TOKEN },
 *   group: "clicks-per-minute",
 *   alarmEveryMs: 10_000,
 * }));
 */
/** An instance of a {@link jobObject} class: what workerd calls. */
export interface JobObject {
  readonly runner: JobRunner;
  fetch(request: Request): Promise<Response>;
  alarm(): Promise<void>;
}

export function jobObject<Env extends object>(
  pipeline: Pipeline | ((env: Env) => Pipeline),
  options: (env: Env) => JobObjectOptions,
): new (
  ctx: DurableObjectStateLike,
  env: Env,
) => JobObject {
  return class RivuletJobObject implements JobObject {
    readonly runner: JobRunner;
    private readonly app: ReturnType<typeof edgeApp<Record<string, unknown>>>;
    private readonly every: number | undefined;

    constructor(
      private readonly ctx: DurableObjectStateLike,
      env: Env,
    ) {
      const { alarmEveryMs, ...o } = options(env);
      this.every = alarmEveryMs;
      this.runner = new JobRunner(typeof pipeline === "function" ? pipeline(env) : pipeline, {
        ...o,
        state: new KeyValueStateStore(durableObjectStorage(ctx.storage)),
      });
      // Reached only through its namespace binding, by the worker's own app (which authenticates).
      this.app = edgeApp(() => ({ auth: "none", proxy: o.proxy, job: { runner: this.runner } }));
    }

    async fetch(request: Request): Promise<Response> {
      const response = await this.app.fetch(request);
      if (this.every !== undefined && new URL(request.url).pathname === "/run") await this.arm();
      return response;
    }

    async alarm(): Promise<void> {
      try {
        await this.runner.step();
      } finally {
        await this.arm();
      }
    }

    private async arm(): Promise<void> {
      if (this.every === undefined) return;
      if ((await this.ctx.storage.getAlarm()) === null)
        await this.ctx.storage.setAlarm(Date.now() + this.every);
    }
  };
}
