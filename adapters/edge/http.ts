import { describeError, type RetryOptions, RivuletError } from "../../core/index.js";

/** What {@link RestClient} needs to reach a Kafka REST proxy. */
export interface RestClientOptions {
  /** The proxy's base URL, e.g. `https://kafka-rest.example.com`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** `fetch` to use (default: the global one; on workerd, a service binding's `fetch`). */
  fetch?: (request: Request) => Promise<Response>;
  /** Longest wait for one response (ms, default 30 000): then it counts as lost and is retried. */
  requestTimeout?: number;
  /** Retries of 429, 5xx, network errors and timeouts (default 8, from 100 ms up to 5 s). */
  retry?: RetryOptions;
}

/** A v2 error body: `{ error_code, message }`. */
export interface ProxyErrorBody {
  error_code: number;
  message: string;
}

const V2 = "application/vnd.kafka.v2+json";

/**
 * One HTTP call to a REST proxy, as the v2 API wants it, retried while it fails transiently:
 * 429 and 5xx (after `Retry-After`, when the proxy sends one, else an exponential backoff with
 * full jitter), a network error, or no answer within `requestTimeout`. A 4xx that is the
 * caller's fault is a clear `RivuletError` at once. Nothing here but `fetch`: it runs on
 * workerd, Deno, Bun, browsers and Node alike.
 */
export class RestClient {
  private readonly base: string;
  private readonly doFetch: (request: Request) => Promise<Response>;

  constructor(private readonly options: RestClientOptions) {
    if (!options || typeof options.url !== "string" || !/^https?:\/\//.test(options.url))
      throw new RivuletError("INVALID_ARGUMENT", "a REST proxy needs { url: 'http(s)://...' }");
    this.base = options.url.replace(/\/+$/, "");
    this.doFetch = options.fetch ?? ((r) => fetch(r));
  }

  /**
   * Sends a request and returns its parsed JSON body (undefined for 204). `accept` is the
   * content type wanted back; `body` is sent as JSON (or `json`, already JSON) with content type
   * `contentType`.
   * `retryIf` may treat a 4xx as transient too (e.g. an expired consumer instance, after the
   * caller made a new one); `onRetry` runs before each retry.
   */
  async call<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    init: {
      body?: unknown;
      /** The body already as JSON text (instead of `body`). */
      json?: string;
      contentType?: string;
      accept?: string;
      what: string;
      /** Called with the error before a retry; a rejection ends the retries with it. */
      onRetry?: (error: RivuletError) => Promise<void> | void;
    },
  ): Promise<T> {
    const retries = this.options.retry?.retries ?? 8;
    const initial = this.options.retry?.initialMs ?? 100;
    const max = this.options.retry?.maxMs ?? 5_000;
    for (let attempt = 0; ; attempt++) {
      let wait: number | undefined;
      let error: RivuletError;
      try {
        return await this.once<T>(method, path, init);
      } catch (e) {
        error =
          e instanceof RivuletError ? e : new RivuletError("BROKER", `${init.what}: ${describeError(e)}`);
        if (!error.retriable) throw error;
        wait = (e as { retryAfterMs?: number }).retryAfterMs;
      }
      if (attempt >= retries)
        throw new RivuletError(
          "BROKER",
          `${init.what} failed ${attempt + 1} times, the last with: ${error.message}`,
          {
            cause: error,
            retriable: true,
          },
        );
      const ceiling = Math.min(max, initial * 2 ** attempt);
      await sleep(wait ?? ceiling / 2 + Math.random() * (ceiling / 2));
      await init.onRetry?.(error);
    }
  }

  private async once<T>(
    method: string,
    path: string,
    init: { body?: unknown; json?: string; contentType?: string; accept?: string; what: string },
  ): Promise<T> {
    const headers = new Headers({ Accept: init.accept ?? V2 });
    if (this.options.token) headers.set("Authorization", `Bearer ${this.options.token}`);
    const body = init.json ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    if (body !== undefined) headers.set("Content-Type", init.contentType ?? V2);
    const timeout = this.options.requestTimeout ?? 30_000;
    const request = new Request(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeout),
    });
    let response: Response;
    try {
      response = await this.doFetch(request);
    } catch (e) {
      const timedOut = (e as { name?: string }).name === "TimeoutError";
      throw new RivuletError(
        "BROKER",
        timedOut
          ? `${init.what}: no answer from ${this.base} within ${timeout} ms`
          : `${init.what}: cannot reach ${this.base}: ${describeError(e)}`,
        { cause: e, retriable: true },
      );
    }
    if (response.status === 204) {
      await response.body?.cancel();
      return undefined as T;
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      // The connection broke mid-response: as lost as no response.
      throw new RivuletError("BROKER", `${init.what}: the response from ${this.base} broke off`, {
        cause: e,
        retriable: true,
      });
    }
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      if (parsed === undefined && text !== "")
        throw new RivuletError(
          "BROKER",
          `${init.what}: the proxy answered ${response.status} with a body that is not JSON`,
          {
            retriable: true,
          },
        );
      return parsed as T;
    }
    throw proxyError(init.what, response, parsed, text);
  }
}

/** A failed response as a `RivuletError`: transient for 408, 429 and 5xx, the caller's fault otherwise. */
export function proxyError(what: string, response: Response, parsed: unknown, text: string): RivuletError {
  const status = response.status;
  const body = parsed as Partial<ProxyErrorBody> | undefined;
  const code = typeof body?.error_code === "number" ? body.error_code : status;
  const message =
    typeof body?.message === "string" ? body.message : text.slice(0, 200) || response.statusText;
  const retriable = status === 408 || status === 429 || status >= 500;
  const kind = code === 40401 || code === 40402 ? "UNKNOWN_TOPIC" : retriable ? "BROKER" : "INVALID_ARGUMENT";
  const e = new RivuletError(kind, `${what}: the REST proxy answered ${status} (${code}): ${message}`, {
    retriable,
  }) as RivuletError & { status: number; errorCode: number; retryAfterMs?: number };
  e.status = status;
  e.errorCode = code;
  const after = retryAfter(response.headers.get("Retry-After"));
  if (after !== undefined) e.retryAfterMs = after;
  return e;
}

/** `Retry-After` (seconds, or an HTTP date) in ms, capped at a minute. */
function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1_000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

/** The v2 error code of a failed call (`errorCode` on the `RivuletError`), if it has one. */
export function errorCodeOf(e: unknown): number | undefined {
  const code = (e as { errorCode?: unknown } | null)?.errorCode;
  return typeof code === "number" ? code : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
