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
  /** A bound of `run(..., { limits })` was reached (the record at fault is dead-lettered). */
  | "LIMIT"
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

/**
 * An error as plain data, for a trip through `postMessage` (structured clone keeps an `Error`'s
 * message and stack but drops its class and own fields: `code`, `retriable`, `step`).
 */
export interface SerializedError {
  readonly _tag: "SerializedError";
  /** The class: `RivuletError`, `PipelineError`, `UserFunctionError`, or any other error's name. */
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: ErrorCode;
  readonly retriable?: boolean;
  readonly step?: string;
  readonly cause?: SerializedError | { value: unknown };
}

/**
 * Turns anything thrown into {@link SerializedError}, causes included (at most 8 deep).
 *
 * @example
 * port.postMessage({ error: serializeError(e) }); // ... and on the other side: deserializeError(msg.error)
 */
export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error) && !isRivuletError(e))
    return { _tag: "SerializedError", name: "Error", message: describe(e), cause: { value: cloneable(e) } };
  const err = e as Error & Partial<Pick<RivuletError, "code" | "retriable">> & { step?: unknown };
  const out: {
    -readonly [K in keyof SerializedError]: SerializedError[K];
  } = { _tag: "SerializedError", name: err.name, message: err.message };
  if (typeof err.stack === "string") out.stack = err.stack;
  if (isRivuletError(e)) {
    out.code = e.code;
    out.retriable = e.retriable;
  }
  if (typeof err.step === "string") out.step = err.step;
  if (err.cause !== undefined && depth < 8)
    out.cause =
      err.cause instanceof Error || isRivuletError(err.cause)
        ? serializeError(err.cause, depth + 1)
        : { value: cloneable(err.cause) };
  return out;
}

/** The error a {@link SerializedError} describes: a Rivulet error of its own class again. */
export function deserializeError(s: SerializedError): Error {
  const cause =
    s.cause === undefined ? undefined : "_tag" in s.cause ? deserializeError(s.cause) : s.cause.value;
  const proto =
    s.code === undefined
      ? Error.prototype
      : s.name === "PipelineError"
        ? PipelineError.prototype
        : s.name === "UserFunctionError"
          ? UserFunctionError.prototype
          : RivuletError.prototype;
  const e = Object.create(proto) as Error & Record<string, unknown>;
  const own = (k: string, v: unknown) =>
    Object.defineProperty(e, k, { value: v, writable: true, configurable: true, enumerable: k !== "stack" });
  own("message", s.message);
  own("name", s.name);
  if (s.stack !== undefined) own("stack", s.stack);
  if (cause !== undefined) own("cause", cause);
  if (s.code !== undefined) {
    own("_tag", "RivuletError");
    own("code", s.code);
    own("retriable", s.retriable ?? false);
  }
  if (s.step !== undefined) own("step", s.step);
  return e;
}

/**
 * Comlink's transfer handler for Rivulet errors passed as values (errors a call rejects with go
 * through Comlink's `"throw"` handler: {@link registerErrorTransfer} sets up both).
 *
 * @example
 * // with Comlink's `transferHandlers` (import them from the comlink package):
 * transferHandlers.set("rivulet-error", errorTransferHandler);
 */
export const errorTransferHandler = {
  canHandle: (value: unknown): value is RivuletError => isRivuletError(value),
  serialize: (value: RivuletError): [SerializedError, never[]] => [serializeError(value), []],
  deserialize: (s: SerializedError): Error => deserializeError(s),
};

/** The shape of Comlink's transfer handlers (core does not import Comlink). */
interface TransferHandlerLike {
  canHandle(value: unknown): boolean;
  serialize(value: never): [unknown, never[]];
  deserialize(value: never): unknown;
}

/**
 * Makes errors keep their class, `code`, `retriable`, `step` and causes across a Comlink
 * boundary, both ways: errors passed as values, and errors a remote call rejects with (Comlink's
 * own `"throw"` handler sends only message, name and stack). Pass Comlink's `transferHandlers`;
 * call it on both sides of the boundary.
 *
 * @example
 * // with Comlink's `transferHandlers` (import them from the comlink package):
 * registerErrorTransfer(transferHandlers);
 */
export function registerErrorTransfer(handlers: Map<string, unknown>): void {
  handlers.set("rivulet-error", errorTransferHandler);
  const original = handlers.get("throw") as TransferHandlerLike | undefined;
  if (!original || (original as { rivulet?: true }).rivulet) return;
  type Thrown = { value: unknown };
  type Wire = { rivulet: SerializedError } | unknown;
  handlers.set("throw", {
    rivulet: true,
    canHandle: (value: unknown) => original.canHandle(value),
    serialize: (thrown: Thrown): [Wire, never[]] =>
      thrown.value instanceof Error || isRivuletError(thrown.value)
        ? [{ rivulet: serializeError(thrown.value) }, []]
        : original.serialize(thrown as never),
    deserialize: (wire: Wire): never => {
      if (typeof wire === "object" && wire !== null && "rivulet" in wire)
        throw deserializeError((wire as { rivulet: SerializedError }).rivulet);
      return original.deserialize(wire as never) as never;
    },
  });
}

/** A value structured clone can carry: itself if it is data, else its description. */
function cloneable(v: unknown): unknown {
  if (v === null || ["string", "number", "boolean", "bigint", "undefined"].includes(typeof v)) return v;
  try {
    return JSON.parse(JSON.stringify(v)) as unknown;
  } catch {
    return describe(v);
  }
}
