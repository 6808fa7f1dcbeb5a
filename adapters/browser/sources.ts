import {
  type Broker,
  type CommittedOffset,
  type Consumer,
  offsetAt,
  type ProduceRecord,
  RivuletError,
  recordAt,
  type StoredRecord,
} from "../../core/index.js";
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

export interface BrokerFeedOptions {
  /** Where the records come from: e.g. `new RestProxyBroker({ url, token })` (rivulet/edge): Kafka through a REST proxy. */
  broker: Broker;
  /** The broker's topics to read. */
  topics: readonly string[];
  /** The consumer group whose committed offsets the feed goes on from (and commits). */
  group: string;
  /** A record as the one to produce (or none, to skip it); default: key, value, timestamp and headers as read, a value of bytes as UTF-8 text (the job's JSON deserializer parses it, and dead-letters what it cannot). */
  toRecord?: (record: StoredRecord) => ProduceRecord | undefined;
  /** Records per partition per poll (default 1000). */
  maxRecords?: number;
  /** Longest wait after a poll that brought nothing (ms, default 250). */
  idleMs?: number;
}

/** A feed from a broker: its end, with the error that stopped it, if any. */
export interface BrokerFeed extends Feed {
  /** Settles when the feed stops: resolves after `stop()`, rejects with what failed it (a poll, a produce, a commit). */
  readonly done: Promise<void>;
}

const utf8 = new TextDecoder();

/** A record as read, for the page's produce: bytes as text, the rest as it is. */
function readRecord(r: StoredRecord): ProduceRecord {
  const out: ProduceRecord = {
    key: r.key,
    value: r.value instanceof Uint8Array ? utf8.decode(r.value) : r.value,
    timestamp: r.timestamp,
  };
  if (Object.keys(r.headers).length > 0) out.headers = r.headers;
  return out;
}

/**
 * Feeds a topic of the job from another broker's topics: Kafka through a REST proxy (the edge
 * adapter's `RestProxyBroker`, fetch only), or any `Broker`. It polls, produces each poll's
 * records in one call (resolved once the worker stored them: in IndexedDB when persistence is
 * on), then commits the group's offsets at the source, so a reload goes on from there.
 * **At least once**: a page that goes between a produce and its commit produces those records
 * again when it comes back (the job's own commits stay exactly once on what it was given).
 * Back-pressure reaches the source: the next poll waits for the produce.
 *
 * @example
 * import { RestProxyBroker } from "rivulet/edge";
 * const broker = new RestProxyBroker({ url: "https://kafka-proxy.example.com", token });
 * const feed = fromBroker(job, "clicks", { broker, topics: ["clicks"], group: "dashboard" });
 * // ... later
 * await feed.stop();
 */
export function fromBroker(job: WorkerJobHandle, topic: string, options: BrokerFeedOptions): BrokerFeed {
  const { broker, topics, group } = options;
  if (!broker || typeof broker.consumer !== "function" || typeof broker.commit !== "function")
    throw new RivuletError(
      "INVALID_ARGUMENT",
      "fromBroker needs options.broker: a Broker (e.g. a RestProxyBroker)",
    );
  if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== "string" || t === ""))
    throw new RivuletError("INVALID_ARGUMENT", "fromBroker needs options.topics: the source topics to read");
  if (typeof group !== "string" || group === "")
    throw new RivuletError("INVALID_ARGUMENT", "fromBroker needs options.group: the source's consumer group");
  const maxRecords = options.maxRecords ?? 1_000;
  const idleMs = options.idleMs ?? 250;
  const toRecord = options.toRecord ?? readRecord;
  const stats = { received: 0, produced: 0, failed: 0 };
  let stopping = false;
  let wake: (() => void) | undefined;
  const loop = async () => {
    const consumer: Consumer = await broker.consumer({ group, topics });
    try {
      while (!stopping) {
        const batches = await consumer.poll({ maxRecords });
        const records: ProduceRecord[] = [];
        const positions: CommittedOffset[] = [];
        for (const b of batches) {
          if (b.end === b.start) continue;
          for (let i = b.start; i < b.end; i++) {
            stats.received++;
            let r: ProduceRecord | undefined;
            try {
              r = toRecord(recordAt(b, i));
            } catch {
              stats.failed++;
              continue;
            }
            if (r !== undefined) records.push(r);
          }
          positions.push({ topic: b.topic, partition: b.partition, offset: offsetAt(b, b.end - 1) + 1 });
        }
        if (records.length > 0) {
          await job.produce(topic, records);
          stats.produced += records.length;
        }
        if (positions.length > 0) await broker.commit({ records: [], offsets: { group, positions } });
        else if (!stopping) await Promise.race([consumer.wait(idleMs), new Promise<void>((r) => (wake = r))]);
      }
    } finally {
      await consumer.close();
    }
  };
  const done = loop();
  done.catch(() => {});
  return {
    stats,
    done,
    async stop() {
      stopping = true;
      wake?.();
      await done;
    },
  };
}
