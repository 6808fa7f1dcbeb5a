import {
  type CommittedOffset,
  type Consumer,
  columnBatch,
  type Headers,
  type PartitionBatch,
  type RebalanceEvent,
  RivuletError,
  type TopicPartition,
} from "../../core/index.js";
import { errorCodeOf } from "./http.js";
import { enc, type RestProxyBroker } from "./rest-proxy-broker.js";
import { Base64Slab, type FetchedRecord, fromBase64, fromUtf8, recordHeaders } from "./wire.js";

const BINARY = "application/vnd.kafka.binary.v2+json";
const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
/** Ends the retries of a fetch whose instance was replaced (see `recover`). */
const REOPENED = new RivuletError("BROKER", "the consumer instance was made again", { retriable: true });
/** Instances made again in a row for one call before its "instance not found" stands. */
const INSTANCE_ATTEMPTS = 5;

interface Buffered {
  readonly topic: string;
  readonly partition: number;
  values: unknown[];
  timestamps: number[];
  keys: (string | null)[];
  headers: (Headers | undefined)[];
  offsets: number[];
}

/**
 * One consumer instance of a REST proxy, reading the partitions it was given. It keeps, per
 * partition, the next offset the job expects, and seeks the instance back to it after any
 * failed or lost fetch (the proxy may have moved on with records the job never got), and after
 * the proxy expired the instance (a new one is made, assigned and sought). Records at offsets it
 * has handed out already are dropped: none is skipped, none handed out twice.
 */
export class RestProxyConsumer implements Consumer {
  private path = "";
  private listeners: ((e: RebalanceEvent) => void | Promise<void>)[] = [];
  private reported = false;
  /** Next offset the job expects, per partition, once known (a seek, or a record handed out). */
  private readonly positions = new Map<string, number>();
  /** Partitions whose position the instance must be told before the next fetch. */
  private readonly unsought = new Set<string>();
  private readonly buffered = new Map<string, Buffered>();
  private readonly ends = new Map<string, number>();
  /** Empty fetches in a row: two mean the end of what is there. */
  private empty = 0;
  /**
   * Positions short of their end offset after empty fetches: the gap may be only transaction
   * markers (a proxy never hands those out) or records the instance has not fetched yet (a new
   * or just-sought instance may answer empty before its first fetch from Kafka returns). The
   * instance is then sought to every position (`reseek`), and fetches that stay empty for
   * `settleMs` after that seek (`verifying`) show the gap is markers (`verified`), until an end
   * offset moves.
   */
  private reseek = false;
  private verifying: number | undefined;
  private verified = false;
  private closed = false;

  constructor(
    private readonly broker: RestProxyBroker,
    readonly group: string,
    private readonly partitions: readonly TopicPartition[],
    private readonly tuning: {
      fetchTimeout: number;
      fetchBytes: number;
      settleMs: number;
      onClose: (c: RestProxyConsumer) => void;
    },
  ) {}

  /**
   * @internal Makes the instance and assigns it its partitions. An instance gone before it was
   * assigned (the proxy restarted in between, or expired it) is made again.
   */
  async open(): Promise<void> {
    const http = this.broker.http;
    for (let attempt = 0; ; attempt++) {
      const created = await http.call<{ instance_id: string }>("POST", `/consumers/${enc(this.group)}`, {
        body: { format: "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false" },
        what: `creating a consumer instance in group "${this.group}"`,
      });
      this.path = `/consumers/${enc(this.group)}/instances/${enc(created.instance_id)}`;
      try {
        await http.call("POST", `${this.path}/assignments`, {
          body: { partitions: this.partitions.map(({ topic, partition }) => ({ topic, partition })) },
          what: `assigning ${this.partitions.length} partitions`,
        });
        break;
      } catch (e) {
        if (errorCodeOf(e) === 40403 && attempt < INSTANCE_ATTEMPTS) continue;
        // Not left behind: an instance whose assignment went on at the proxy would join the
        // group for the same partitions as the next one, until the proxy expired it.
        await http.call("DELETE", this.path, { what: "deleting the consumer instance" }).catch(() => {});
        throw e;
      }
    }
    for (const k of this.positions.keys()) this.unsought.add(k);
  }

  assignment(): readonly TopicPartition[] {
    return this.partitions;
  }

  onRebalance(listener: (event: RebalanceEvent) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async poll({ maxRecords }: { maxRecords: number }): Promise<PartitionBatch[]> {
    this.check();
    if (!this.reported) {
      this.reported = true;
      for (const l of this.listeners) await l({ assigned: this.partitions, revoked: [] });
    }
    if (this.buffered.size === 0) await this.fetch();
    const out: PartitionBatch[] = [];
    for (const [key, b] of this.buffered) {
      const n = Math.min(maxRecords, b.offsets.length);
      // All of a partition's records: its arrays themselves (no copy), and the buffer goes.
      const all = n === b.offsets.length;
      const take = (a: unknown[]) => (all ? a : a.splice(0, n));
      const batch = columnBatch(
        b,
        {
          values: take(b.values),
          timestamps: take(b.timestamps) as number[],
          keys: keysOrNone(take(b.keys) as (string | null)[]),
          headers: headersOrNone(take(b.headers) as (Headers | undefined)[]),
          offsets: take(b.offsets) as number[],
        },
        this.ends.get(key) ?? 0,
      );
      this.positions.set(key, batch.offsets[batch.offsets.length - 1]! + 1);
      if (all) this.buffered.delete(key);
      out.push(batch);
    }
    return out;
  }

  /**
   * Two fetches in a row came back empty, and no known position is behind its end offset, or
   * a fetch from exactly the job's positions came back empty too.
   */
  atEnd(): boolean {
    if (this.buffered.size > 0 || this.empty < 2 || this.unsought.size > 0) return false;
    return this.verified || !this.behind();
  }

  private behind(): boolean {
    for (const [key, end] of this.ends) if ((this.positions.get(key) ?? end) < end) return true;
    return false;
  }

  seek(topic: string, partition: number, offset: number): void {
    const key = tpKey(topic, partition);
    if (!this.partitions.some((tp) => tp.topic === topic && tp.partition === partition))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `partition ${topic}[${partition}] is not assigned to this consumer`,
      );
    this.positions.set(key, offset);
    this.unsought.add(key);
    this.buffered.delete(key);
    this.empty = 0;
    this.verified = false;
    this.verifying = undefined;
  }

  wait(timeoutMs: number): Promise<void> {
    // Fetches wait at the proxy; between them, a short pause.
    return new Promise((r) => setTimeout(r, Math.max(0, Math.min(timeoutMs, 100))));
  }

  /** @internal Commits offsets of the group through this instance. */
  async commitOffsets(positions: readonly CommittedOffset[]): Promise<void> {
    await this.instanceCall("POST", "/offsets", {
      body: {
        offsets: positions.map(({ topic, partition, offset, metadata }) =>
          metadata === undefined ? { topic, partition, offset } : { topic, partition, offset, metadata },
        ),
      },
      what: `committing the offsets of group "${this.group}"`,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tuning.onClose(this);
    await this.broker.http
      .call("DELETE", this.path, { what: "deleting the consumer instance" })
      .catch(() => {});
  }

  /** One fetch into the buffers; after any failure the instance is sought back first. */
  private async fetch(): Promise<void> {
    if (this.reseek) {
      this.reseek = false;
      await this.seekInstance(true);
      this.verifying = Date.now();
    } else if (this.unsought.size > 0) await this.seekInstance();
    const { fetchTimeout, fetchBytes } = this.tuning;
    let records: FetchedRecord[] | undefined;
    try {
      records = await this.instanceCall<FetchedRecord[]>(
        "GET",
        `/records?timeout=${fetchTimeout}&max_bytes=${fetchBytes}`,
        {
          accept: BINARY,
          what: `fetching records of group "${this.group}"`,
          // The lost response may have moved the proxy's consumer on: back to what the job has.
          onRetry: () => this.recover(),
        },
      );
    } catch (e) {
      if (e === REOPENED) return; // the next fetch reads from the new instance
      throw e;
    }
    let taken = 0;
    const list = records ?? [];
    const slab = new Base64Slab(list.map((r) => r.value));
    for (const r of list) {
      const key = tpKey(r.topic, r.partition);
      const offset = Number(r.offset);
      const b = this.buffered.get(key);
      const next = b?.offsets.length ? b.offsets[b.offsets.length - 1]! + 1 : this.positions.get(key);
      if (next !== undefined && offset < next) continue; // handed out (or buffered) already
      let buf = b;
      if (!buf) {
        buf = {
          topic: r.topic,
          partition: r.partition,
          values: [],
          timestamps: [],
          keys: [],
          headers: [],
          offsets: [],
        };
        this.buffered.set(key, buf);
      }
      buf.values.push(r.value === null ? null : slab.decode(r.value));
      buf.timestamps.push(typeof r.timestamp === "number" ? r.timestamp : Number.NaN);
      buf.keys.push(r.key === null ? null : fromUtf8(fromBase64(r.key)));
      buf.headers.push(recordHeaders(r.headers));
      buf.offsets.push(offset);
      taken++;
    }
    if (taken > 0) {
      this.empty = 0;
      this.verified = false;
      this.verifying = undefined;
    } else {
      this.empty++;
      if (this.verifying !== undefined && Date.now() - this.verifying >= this.tuning.settleMs) {
        this.verifying = undefined;
        this.verified = true;
      }
      if (this.empty >= 2) {
        await this.refreshEnds();
        if (!this.verified && this.verifying === undefined && this.behind()) this.reseek = true;
      }
    }
  }

  /**
   * Before a fetch is tried again (its response lost, or an error): the proxy may have moved
   * on with records the job never got. Partitions whose position the job knows are sought back
   * to it. One whose position it does not know yet (its records start where the group
   * committed, or at the beginning) cannot be: a new instance starts it there again, and the
   * fetch is made anew on it (`REOPENED` ends the retries of the old one).
   */
  private async recover(): Promise<void> {
    if (this.partitions.every(({ topic, partition }) => this.positions.has(tpKey(topic, partition))))
      return this.seekInstance(true);
    await this.broker.http
      .call("DELETE", this.path, { what: "deleting the consumer instance" })
      .catch(() => {});
    await this.open();
    await this.seekInstance(true);
    throw REOPENED;
  }

  /** End offsets now; one that moved voids what an earlier verification showed. */
  private async refreshEnds(): Promise<void> {
    for (const [k, v] of await this.broker.endOffsets(this.partitions)) {
      if (this.ends.get(k) !== v) this.verified = false;
      this.ends.set(k, v);
    }
  }

  /** Tells the instance the job's positions (all known ones, or the ones not yet told). */
  private async seekInstance(all = false): Promise<void> {
    const keys = all ? [...this.positions.keys()] : [...this.unsought];
    const offsets = keys.flatMap((k) => {
      const [topic, p] = k.split("\u0000") as [string, string];
      const offset = this.positions.get(k);
      return offset === undefined ? [] : [{ topic, partition: Number(p), offset }];
    });
    for (const k of this.buffered.keys()) if (all) this.buffered.delete(k);
    if (offsets.length > 0)
      await this.instanceCall("POST", "/positions", {
        body: { offsets },
        what: "seeking the consumer instance",
      });
    for (const k of keys) this.unsought.delete(k);
  }

  /**
   * A call on the instance; one the proxy expired (or lost, restarting) is made again (assigned,
   * sought) first.
   */
  private async instanceCall<T>(
    method: "GET" | "POST",
    sub: string,
    init: { body?: unknown; accept?: string; what: string; onRetry?: () => Promise<void> },
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.broker.http.call<T>(method, `${this.path}${sub}`, init);
      } catch (e) {
        if (errorCodeOf(e) !== 40403 || this.closed || attempt >= INSTANCE_ATTEMPTS) throw e;
      }
      await this.open();
      if (this.unsought.size > 0) await this.seekInstance();
    }
  }

  private check(): void {
    if (this.closed) throw new RivuletError("JOB_STOPPED", "consumer is closed");
  }
}

function keysOrNone(keys: (string | null)[]): (string | null)[] | undefined {
  return keys.some((k) => k !== null) ? keys : undefined;
}

function headersOrNone(h: (Headers | undefined)[]): (Headers | undefined)[] | undefined {
  return h.some((x) => x !== undefined) ? h : undefined;
}
