/**
 * One error type for everything Rivulet raises, recognised by a string tag rather than
 * `instanceof`, so it survives a worker boundary (structured clone drops prototypes).
 *
 * @example
 * try { await job.drain(); } catch (e) { if (isRivuletError(e) && e.retriable) retry(); }
 */
export type ErrorCode =
  | "INVALID_PIPELINE"
  | "INVALID_ARGUMENT"
  | "UNKNOWN_TOPIC"
  | "USER_FUNCTION"
  | "BROKER"
  | "STATE"
  /** The group gave this member's partitions to others: its uncommitted work must go. */
  | "PARTITIONS_LOST"
  | "JOB_STOPPED";

export class RivuletError extends Error {
  readonly _tag = "RivuletError" as const;
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RivuletError";
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A pipeline definition that cannot run; `step` names the builder call at fault. */
export class PipelineError extends RivuletError {
  readonly step: string;
  constructor(step: string, message: string) {
    super("INVALID_PIPELINE", `Invalid pipeline at ${step}: ${message}`);
    this.name = "PipelineError";
    this.step = step;
  }
}

/** A user function (map, filter, aggregator, process ...) threw; `step` says which one. */
export class UserFunctionError extends RivuletError {
  readonly step: string;
  constructor(step: string, cause: unknown) {
    super("USER_FUNCTION", `${step} threw: ${describe(cause)}`, { cause });
    this.name = "UserFunctionError";
    this.step = step;
  }
}

export function isRivuletError(e: unknown): e is RivuletError {
  return typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "RivuletError";
}

/** A short, single-line description of anything thrown. */
export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  try {
    return typeof e === "string" ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    return String(e);
  }
}
