/**
 * A broker for "generation included" runs, the way Flink's Nexmark runs: a datagen source (events
 * made as the consumer polls, one batch at a time, never stored) and a blackhole sink (outputs
 * counted, then dropped). The engine's path is the usual one (poll, the fused chain, sinks, a
 * commit per batch); only the broker keeps nothing, so memory stays flat over any number of
 * events and the in-memory topic's own costs (storing every record) are left out.
 */
import type {
  Broker,
  CommittedOffset,
  Consumer,
  PartitionBatch,
  RebalanceEvent,
  TopicPartition,
  Transaction,
} from "../../core/index.js";
import { outputOf } from "../../core/index.js";
import { generateNexmarkBatch, type NexmarkConfig, type NexmarkEvent } from "../../core/testing.js";

/** Records `start .. start + n - 1` of the input, as a poll hands them to the engine. */
interface Slice {
  values: readonly NexmarkEvent[];
  timestamps: ArrayLike<number>;
  /** Index in `values` of the first record. */
  start: number;
}

export class NexmarkGeneratorBroker implements Broker {
  /** Records written per topic (then dropped). */
  readonly written = new Map<string, number>();

  constructor(
    readonly input: string,
    readonly config: NexmarkConfig,
    readonly events: number,
  ) {}

  async createTopic(name: string): Promise<void> {
    if (name !== this.input && !this.written.has(name)) this.written.set(name, 0);
  }

  async partitions(topic: string): Promise<number | undefined> {
    return topic === this.input || this.written.has(topic) ? 1 : undefined;
  }

  async consumer(): Promise<Consumer> {
    return new GeneratingConsumer(this);
  }

  /** Events `from .. from + n - 1`, made now. */
  slice(from: number, n: number): Slice {
    const { values, timestamps } = generateNexmarkBatch(this.config, n, from);
    return { values, timestamps, start: 0 };
  }

  async commit(tx: Transaction): Promise<void> {
    // Outputs come in runs of one topic: one Map update per run.
    const out = outputOf(tx.records);
    for (let r = 0; r < out.runs; r++) {
      const t = out.runTopic(r);
      this.written.set(t, (this.written.get(t) ?? 0) + (out.runEnd(r) - out.runStart(r)));
    }
  }

  async committed(): Promise<CommittedOffset[]> {
    return [];
  }
}

class GeneratingConsumer implements Consumer {
  private position = 0;
  private assigned = false;
  private readonly listeners: ((e: RebalanceEvent) => void | Promise<void>)[] = [];
  private readonly tp: TopicPartition;

  constructor(private readonly broker: NexmarkGeneratorBroker) {
    this.tp = { topic: broker.input, partition: 0 };
  }

  assignment(): readonly TopicPartition[] {
    return this.assigned ? [this.tp] : [];
  }

  async poll({ maxRecords }: { maxRecords: number }): Promise<PartitionBatch[]> {
    if (!this.assigned) {
      this.assigned = true;
      for (const l of this.listeners) await l({ assigned: [this.tp], revoked: [] });
    }
    const { input, events } = this.broker;
    const from = this.position;
    const n = Math.max(0, Math.min(maxRecords, events - from));
    // Values and their timestamps (made in one pass, or already there), handed over as they are.
    const { values, timestamps, start } = this.broker.slice(from, n);
    this.position = from + n;
    return [
      {
        topic: input,
        partition: 0,
        start,
        end: start + n,
        values,
        timestamps,
        firstOffset: from,
        highWatermark: events,
      },
    ];
  }

  seek(_topic: string, _partition: number, offset: number): void {
    this.position = offset;
  }

  atEnd(): boolean {
    return this.assigned && this.position >= this.broker.events;
  }

  async wait(): Promise<void> {}

  onRebalance(listener: (event: RebalanceEvent) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {}
}

/**
 * The same broker over events made up front ("without generation", as Flink's run over an array
 * of events): each poll hands the engine a window of the one array and of its timestamp column,
 * no copy, so the engine's path is all that is timed. Outputs are counted and dropped as above.
 */
export class PreloadedNexmarkBroker extends NexmarkGeneratorBroker {
  constructor(
    input: string,
    private readonly preloaded: readonly NexmarkEvent[],
    private readonly timestamps: ArrayLike<number>,
  ) {
    super(input, {}, preloaded.length);
  }

  override slice(from: number): Slice {
    return { values: this.preloaded, timestamps: this.timestamps, start: from };
  }
}
