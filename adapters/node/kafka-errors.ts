import { describeError, isRivuletError, RivuletError } from "../../core/index.js";

/**
 * Protocol errors that trying again cannot fix: the producer lost its transactional id to
 * another instance, a record or request the broker will never accept, a missing permission.
 */
const PERMANENT = new Set([
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "INVALID_TXN_STATE",
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "UNSUPPORTED_VERSION",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "INVALID_CONFIG",
]);

/**
 * Failures of the connection itself: the broker may be back later. KafkaJS reports a group
 * coordinator it could not find (no broker accepted a connection) as non-retriable.
 */
const TRANSIENT_NAMES = new Set([
  "KafkaJSGroupCoordinatorNotFound",
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSNoBrokerAvailableError",
]);

/** A KafkaJS error, or a @platformatic/kafka one (`apiId`, `canRetry`, `errors` of a response). */
interface KafkaErrorLike {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
  code?: unknown;
  apiId?: unknown;
  canRetry?: unknown;
  errors?: unknown;
}

/** @platformatic/kafka's codes for a connection that failed or a request that timed out. */
const TRANSIENT_CODES = new Set(["PLT_KFK_NETWORK", "PLT_KFK_TIMEOUT"]);

/**
 * The chain of causes of a Kafka client error, outermost first; of several errors in one
 * response (@platformatic/kafka's `MultipleErrors`), the first.
 */
function chain(e: unknown): KafkaErrorLike[] {
  const out: KafkaErrorLike[] = [];
  let cur = e;
  while (typeof cur === "object" && cur !== null && out.length < 8 && !out.includes(cur)) {
    const err = cur as KafkaErrorLike;
    out.push(err);
    cur = err.cause ?? err.originalError ?? (Array.isArray(err.errors) ? err.errors[0] : undefined);
  }
  return out;
}

/** The protocol error type (e.g. `UNKNOWN_TOPIC_OR_PARTITION`) anywhere in the chain. */
export function protocolType(e: unknown): string | undefined {
  for (const err of chain(e)) {
    if (typeof err.type === "string") return err.type;
    if (typeof err.apiId === "string") return err.apiId;
  }
  return undefined;
}

/**
 * Whether the same operation may succeed when tried again. KafkaJS marks a condition that
 * outlasted its own retries as non-retriable; for the caller it is still transient (a broker
 * restarting, a coordinator moving), so the root cause decides.
 */
export function isRetriable(e: unknown): boolean {
  const errs = chain(e);
  const permanent = (t: unknown) => typeof t === "string" && PERMANENT.has(t);
  if (errs.some((err) => permanent(err.type) || permanent(err.apiId))) return false;
  if (errs.some((err) => typeof err.name === "string" && TRANSIENT_NAMES.has(err.name))) return true;
  if (errs.some((err) => typeof err.code === "string" && TRANSIENT_CODES.has(err.code))) return true;
  const root = errs.at(-1);
  if (typeof root?.retriable === "boolean") return root.retriable;
  return typeof root?.canRetry === "boolean" ? root.canRetry : false;
}

/** Wraps anything a Kafka call threw as a Rivulet `BROKER` error that says what was being done. */
export function brokerError(what: string, e: unknown): RivuletError {
  if (isRivuletError(e)) return e;
  return new RivuletError("BROKER", `${what}: ${describeError(e)}`, { cause: e, retriable: isRetriable(e) });
}

/** Rejects with `onTimeout()` when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The parts of KafkaJS's admin client {@link createTopicAndWait} uses. */
interface TopicAdmin {
  createTopics(options: {
    waitForLeaders?: boolean;
    topics: { topic: string; numPartitions?: number; configEntries?: { name: string; value: string }[] }[];
  }): Promise<boolean>;
  fetchTopicMetadata(options: {
    topics: string[];
  }): Promise<{ topics: { name: string; partitions: { leader: number }[] }[] }>;
}

/**
 * Creates a topic (quietly when it exists, as when several members of a group race to create
 * it) and waits until every partition has a leader. KafkaJS's own `waitForLeaders` retries only
 * LEADER_NOT_AVAILABLE, while Kafka 4 answers UNKNOWN_TOPIC_OR_PARTITION for a moment after a
 * topic is created: that failed the creating process now and then.
 */
export async function createTopicAndWait(
  admin: TopicAdmin,
  topic: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] },
  timeoutMs = 30_000,
): Promise<void> {
  try {
    await admin.createTopics({ waitForLeaders: false, topics: [topic] });
  } catch (e) {
    if (protocolType(e) !== "TOPIC_ALREADY_EXISTS") throw e;
  }
  const deadline = Date.now() + timeoutMs;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic.topic] });
      const parts = topics.find((t) => t.name === topic.topic)?.partitions ?? [];
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return;
    } catch (e) {
      const type = protocolType(e);
      if (type !== "UNKNOWN_TOPIC_OR_PARTITION" && type !== "LEADER_NOT_AVAILABLE") throw e;
    }
    if (Date.now() > deadline)
      throw new RivuletError("BROKER", `topic "${topic.topic}" has no leader for every partition yet`, {
        retriable: true,
      });
    await new Promise((r) => setTimeout(r, wait));
  }
}
