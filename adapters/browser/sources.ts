import type { ProduceRecord } from "../../core/index.js";
import type { WorkerJobHandle } from "./page.js";

export interface FeedOptions<M> {
  /** A message as a record (or none, to skip it); default: its data parsed as JSON, stamped now. */
  toRecord?: (message: M) => ProduceRecord | undefined;
  /** Records gathered before a produce call (default 500), or after `maxDelayMs` (default 50). */
  batchSize?: number;
  maxDelayMs?: number;
  /** A record that `toRecord` cannot make (it throws): default, dropped and counted. */
  onError?: (error: unknown, message: M) => void;
}

/** A running feed: stop it, and see what it did. */
export interface Feed {
  readonly stats: { received: number; produced: number; failed: number };
  /** Stops listening and writes what is gathered. */
  stop(): Promise<void>;
}

/**
 * Feeds a topic from a source of messages (a `WebSocket`, an `EventSource`) in batches: one
 * `produce` per batch, never one per message, and no overlapping produce calls, so the worker's
 * back-pressure reaches the feed (messages gather meanwhile).
 */
function feed<M extends { data?: unknown }>(
  job: WorkerJobHandle,
  topic: string,
  listen: (on: (m: M) => void) => () => void,
  options: FeedOptions<M>,
): Feed {
  const stats = { received: 0, produced: 0, failed: 0 };
  const toRecord =
    options.toRecord ??
    ((m: M) => ({ value: typeof m.data === "string" ? JSON.parse(m.data) : m.data, timestamp: Date.now() }));
  const size = options.batchSize ?? 500;
  let pending: ProduceRecord[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return writing;
    const batch = pending;
    pending = [];
    writing = writing.then(async () => {
      await job.produce(topic, batch);
      stats.produced += batch.length;
    });
    return writing;
  };
  const stopListening = listen((m) => {
    stats.received++;
    let r: ProduceRecord | undefined;
    try {
      r = toRecord(m);
    } catch (e) {
      stats.failed++;
      options.onError?.(e, m);
      return;
    }
    if (r === undefined) return;
    pending.push(r);
    if (pending.length >= size) void flush();
    else timer ??= setTimeout(() => void flush(), options.maxDelayMs ?? 50);
  });
  return {
    stats,
    async stop() {
      stopListening();
      await flush();
    },
  };
}

/**
 * Feeds a topic from a WebSocket's messages.
 *
 * @example
 * const ws = new WebSocket("wss://feed.example.com/clicks");
 * const f = fromWebSocket(job, "clicks", ws, { toRecord: (m) => ({ value: JSON.parse(m.data), timestamp: Date.now() }) });
 */
export function fromWebSocket(
  job: WorkerJobHandle,
  topic: string,
  ws: WebSocket,
  options: FeedOptions<MessageEvent> = {},
): Feed {
  return feed<MessageEvent>(
    job,
    topic,
    (on) => {
      ws.addEventListener("message", on);
      return () => ws.removeEventListener("message", on);
    },
    options,
  );
}

/**
 * Feeds a topic from an EventSource's (server-sent) messages.
 *
 * @example
 * const f = fromEventSource(job, "clicks", new EventSource("/clicks/stream"));
 */
export function fromEventSource(
  job: WorkerJobHandle,
  topic: string,
  source: EventSource,
  options: FeedOptions<MessageEvent> & { event?: string } = {},
): Feed {
  const name = options.event ?? "message";
  return feed<MessageEvent>(
    job,
    topic,
    (on) => {
      source.addEventListener(name, on as EventListener);
      return () => source.removeEventListener(name, on as EventListener);
    },
    options,
  );
}
