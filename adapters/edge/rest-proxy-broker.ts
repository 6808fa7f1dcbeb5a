import {
  type Broker,
  type BrokerCapabilities,
  type CommittedOffset,
  type Consumer,
  type ConsumerOptions,
  outputOf,
  RivuletError,
  type TopicOptions,
  type Transaction,
  topicNameProblem,
} from "../../core/index.js";
import { errorCodeOf, RestClient, type RestClientOptions } from "./http.js";
import { RestProxyConsumer } from "./rest-proxy-consumer.js";
import { type ProduceBody, produceBodies } from "./wire.js";

export interface RestProxyBrokerOptions extends RestClientOptions {
  /** Bytes of records per produce request, before base64 (default 4 MiB; Rivulet's proxy takes 8 MiB bodies). */
  produceBytes?: number;
  /** Longest a fetch of records waits for data at the proxy (ms, default 500). */
  fetchTimeout?: number;
  /** Most bytes a fetch asks for (default 4 MiB). */
  fetchBytes?: number;
  /**
   * How long fetches must stay empty after a consumer is sought back to the job's positions
   * before a gap up to the end offsets counts as transaction markers, not records still to come
   * (ms, default 1000): a just-sought or re-made instance may answer empty before its first read
   * from Kafka returns.
   */
  settleMs?: number;
}

const BINARY = "application/vnd.kafka.binary.v2+json";
/** How long a partition count read through the proxy stands for making a consumer (ms). */
const PARTITIONS_FRESH_MS = 1_000;

/**
 * The {@link Broker} seam over a Kafka REST proxy speaking Confluent's v2 API (Rivulet's own,
 * `restProxy()` in `rivulet/node`, or another), with `fetch` alone: no `node:*`, no `Buffer`,
 * so it runs on workerd, Deno, Bun, browsers and Node. A proxy has no transactions and keeps no
 * offset metadata, so jobs on it run the `store-owned` protocol: outputs at least once, each with
 * a deterministic `rivulet.id` header (a repeat is the same record); state exactly once, the
 * state store keeping the offsets with each checkpoint. A consumer reads the partitions it is
 * given (static assignment: one job per group, or one per partition set).
 *
 * Keys, values and headers travel in the binary embedded format, so Kafka holds the same bytes
 * as `KafkaBroker` writes; headers and record timestamps are Rivulet's extensions of v2 (its own
 * proxy has them; Confluent's v2 has neither, so give sources a timestamp function there).
 *
 * @example
 * import { RestProxyBroker } from "rivulet/edge";
 * const broker = new RestProxyBroker({ url: "https://kafka-rest.example.com", token: env.TOKEN });
 * const job = await run(perMinute, { broker, state, group: "clicks", manual: true });
 * await job.runFor({ maxMs: 20_000 });
 */
export class RestProxyBroker implements Broker {
  readonly capabilities: BrokerCapabilities = Object.freeze({
    atomicCommit: false,
    commitMetadata: false,
    assignment: "static",
  });
  /** @internal */
  readonly http: RestClient;
  private readonly consumers = new Map<string, RestProxyConsumer>();
  /** Partition counts read, and when: a consumer made right after the job read them reuses them. */
  private readonly partitionCounts = new Map<string, { n: number; at: number }>();

  constructor(readonly options: RestProxyBrokerOptions) {
    this.http = new RestClient(options);
  }

  /** A REST proxy's v2 API cannot create topics: this succeeds when the topic exists, else says so. */
  async createTopic(name: string, _options: TopicOptions = {}): Promise<void> {
    const problem = topicNameProblem(name);
    if (problem) throw new RivuletError("INVALID_ARGUMENT", problem);
    if ((await this.partitions(name)) === undefined)
      throw new RivuletError(
        "UNKNOWN_TOPIC",
        `topic "${name}" does not exist, and a REST proxy cannot create topics: create it on the cluster first`,
      );
  }

  async partitions(topic: string): Promise<number | undefined> {
    if (topicNameProblem(topic)) return undefined;
    try {
      const parts = await this.http.call<{ partition: number }[]>("GET", `/topics/${enc(topic)}/partitions`, {
        what: `reading the partitions of topic "${topic}"`,
      });
      this.partitionCounts.set(topic, { n: parts.length, at: Date.now() });
      return parts.length;
    } catch (e) {
      if (errorCodeOf(e) === 40401) return undefined;
      throw e;
    }
  }

  async consumer(options: ConsumerOptions): Promise<Consumer> {
    const partitions = [...(options.partitions ?? [])];
    if (options.partitions === undefined)
      for (const topic of options.topics) {
        // A job reads its sources' partition counts as it starts, then makes its consumer: one
        // request instead of two (counts only grow; this one is at most PARTITIONS_FRESH_MS old).
        const known = this.partitionCounts.get(topic);
        const n =
          known && Date.now() - known.at < PARTITIONS_FRESH_MS ? known.n : await this.partitions(topic);
        if (n === undefined) throw new RivuletError("UNKNOWN_TOPIC", `topic "${topic}" does not exist`);
        for (let p = 0; p < n; p++) partitions.push({ topic, partition: p });
      }
    const c = new RestProxyConsumer(this, options.group, partitions, {
      fetchTimeout: this.options.fetchTimeout ?? 500,
      fetchBytes: this.options.fetchBytes ?? 4 * 1024 * 1024,
      settleMs: this.options.settleMs ?? 1_000,
      onClose: (x) => {
        if (this.consumers.get(options.group) === x) this.consumers.delete(options.group);
      },
    });
    await c.open();
    this.consumers.set(options.group, c);
    return c;
  }

  /**
   * Writes the records (per topic, in requests of at most `produceBytes`), then commits the
   * offsets through the group's consumer instance. Not atomic: a retry after a lost response
   * writes records again, with the same ids.
   */
  async commit(tx: Transaction): Promise<void> {
    const out = outputOf(tx.records);
    if (tx.checkpoint)
      throw new RivuletError("INVALID_ARGUMENT", "a REST proxy cannot write a checkpoint inside a commit");
    // Every request body is made before anything is sent: a bad record sends nothing.
    const requests = produceBodies(out, this.options.produceBytes ?? 4 * 1024 * 1024);
    for (const r of requests) await this.produce(r);
    const offsets = tx.offsets;
    if (offsets && offsets.positions.length > 0) {
      const c = this.consumers.get(offsets.group);
      if (!c)
        throw new RivuletError(
          "INVALID_ARGUMENT",
          `offsets of group "${offsets.group}" are committed through a consumer of that group, and none is open`,
        );
      await c.commitOffsets(offsets.positions);
    }
  }

  /**
   * Always empty: v2 reads committed offsets with a GET that has a body, which `fetch` cannot
   * send. A consumer instance starts from its group's committed offsets by itself, and jobs on
   * a REST proxy keep their offsets in their state store.
   */
  async committed(_group: string, _topic: string): Promise<CommittedOffset[]> {
    return [];
  }

  /** End offsets of partitions (`GET /topics/{t}/partitions/{p}/offsets`), for lag and the end of input. */
  async endOffsets(
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const { topic, partition } of partitions) {
      const o = await this.http.call<{ end_offset: number }>(
        "GET",
        `/topics/${enc(topic)}/partitions/${partition}/offsets`,
        { what: `reading the end offset of ${topic}[${partition}]` },
      );
      out.set(`${topic}\u0000${partition}`, Number(o.end_offset));
    }
    return out;
  }

  /** Closes every consumer instance it opened. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers.values()].map((c) => c.close()));
  }

  private async produce({ topic, json, count }: ProduceBody): Promise<void> {
    const res = await this.http.call<{ offsets: { error_code?: number | null; error?: string | null }[] }>(
      "POST",
      `/topics/${enc(topic)}`,
      { json, contentType: BINARY, what: `writing ${count} records to topic "${topic}"` },
    );
    const failed = res.offsets?.find((o) => o.error_code !== null && o.error_code !== undefined);
    if (failed)
      throw new RivuletError("BROKER", `writing to topic "${topic}": ${failed.error ?? "a record failed"}`, {
        retriable: failed.error_code === 2,
      });
  }
}

/** A path segment. */
export const enc = (s: string): string => encodeURIComponent(s);
