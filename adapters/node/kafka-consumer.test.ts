// KafkaConsumer over a stand-in for KafkaJS's consumer (its events, run() and eachBatch), no broker:
// when KafkaJS may let go of a batch (and so fetch again, or rejoin its group) and when not.
import type { EachBatchPayload, Consumer as KafkaJSConsumer } from "kafkajs";
import { describe, expect, it } from "vitest";
import { KafkaConsumer } from "./kafka-consumer.js";

type Listener = (e: { payload: Record<string, unknown> }) => void;

/** The part of KafkaJS's consumer KafkaConsumer uses: events, run (one join), seek. */
class StandIn {
  readonly events = {
    GROUP_JOIN: "group-join",
    HEARTBEAT: "heartbeat",
    FETCH_START: "fetch-start",
    END_BATCH_PROCESS: "end-batch-process",
    CRASH: "crash",
  };
  private readonly listeners = new Map<string, Listener[]>();
  eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;

  on(event: string, listener: Listener): () => void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return () => {};
  }

  emit(event: string, payload: Record<string, unknown>): void {
    for (const l of this.listeners.get(event) ?? []) l({ payload });
  }

  async run(config: { eachBatch: (p: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = config.eachBatch;
    this.join("member-1");
  }

  join(memberId: string, partitions = [0]): void {
    this.emit(this.events.GROUP_JOIN, { memberId, memberAssignment: { in: partitions } });
  }

  seek(): void {}
}

/** A KafkaJS batch of `n` records of partition 0 of topic "in", from offset `first`. */
function batch(first: number, n: number) {
  const messages = Array.from({ length: n }, (_, i) => ({
    offset: String(first + i),
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`{"i":${i}}`),
    timestamp: String(1_000 + i),
    headers: {},
  }));
  return {
    topic: "in",
    partition: 0,
    highWatermark: String(first + n),
    messages,
    lastOffset: () => String(first + n - 1),
  };
}

/** Delivers a batch to eachBatch as KafkaJS would; heartbeats answer with `heartbeat`. */
function deliver(kc: StandIn, b: ReturnType<typeof batch>, heartbeat: () => Promise<void>) {
  const resolved: string[] = [];
  let returned = false;
  const done = kc.eachBatch!({
    batch: b,
    resolveOffset: (o: string) => resolved.push(o),
    heartbeat,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload).then(
    () => (returned = true),
    () => (returned = true),
  );
  return { resolved, done, returned: () => returned };
}

async function member() {
  const kc = new StandIn();
  const c = new KafkaConsumer(
    "g",
    ["in"],
    kc as unknown as KafkaJSConsumer,
    { idleWait: 10, lagWait: 30, heartbeatEvery: 5 },
    async () => {},
  );
  await c.start(1);
  return { kc, c };
}

const rebalancing = () =>
  Promise.reject(Object.assign(new Error("rebalancing"), { type: "REBALANCE_IN_PROGRESS" }));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("KafkaConsumer", () => {
  it("holds what a job took until it is committed, from the job's first batch on, through a rebalance", async () => {
    const { kc, c } = await member();
    // A job registers; it has not committed anything yet.
    c.holdsUncommitted(() => false);
    let rebalance = false;
    const held = deliver(kc, batch(0, 3), () => (rebalance ? rebalancing() : Promise.resolve()));
    const [got] = (await c.poll({ maxRecords: 100 })).filter((b) => b.end > b.start);
    expect(got?.end).toBe(3);
    // The next poll does not let it go (KafkaJS would fetch again and could rejoin its group
    // while the job holds outputs of these records), nor does a rebalance the heartbeats report.
    await c.poll({ maxRecords: 100 });
    rebalance = true;
    await pause(30);
    expect(held.returned()).toBe(false);
    expect(c.needsCommit()).toBe(true);
    // The job's commit covers it: KafkaJS resolves it and rejoins.
    c.beginCommit();
    c.noteCommitted([{ topic: "in", partition: 0, offset: 3 }]);
    c.endCommit();
    await held.done;
    expect(held.resolved).toEqual(["2"]);
  });

  it("lets nothing go while a commit of its group is under way, even with nothing handed out left uncommitted", async () => {
    const { kc, c } = await member();
    c.holdsUncommitted(() => false);
    const first = deliver(kc, batch(0, 2), () => Promise.resolve());
    await c.poll({ maxRecords: 100 });
    c.beginCommit();
    c.noteCommitted([{ topic: "in", partition: 0, offset: 2 }]);
    c.endCommit();
    await first.done;
    // A second batch is queued but not taken; a commit (of a timer's outputs, say) starts, and
    // the heartbeats report a rebalance meanwhile.
    const second = deliver(kc, batch(2, 2), rebalancing);
    c.beginCommit();
    await pause(30);
    expect(second.returned()).toBe(false);
    c.endCommit();
    await second.done;
    expect(second.resolved).toEqual([]);
  });

  it("knows its generation once a heartbeat confirms it, and counts its joins", async () => {
    const { kc, c } = await member();
    expect(c.joins).toBe(1);
    expect(c.generationId).toBeUndefined();
    kc.emit(kc.events.HEARTBEAT, { groupId: "g", memberId: "member-1", groupGenerationId: 4 });
    expect(c.generationId).toBe(4);
    kc.join("member-1", [0]);
    expect(c.joins).toBe(2);
    expect(c.generationId).toBeUndefined();
  });

  it("a consumer no job commits through lets a batch go at the next poll", async () => {
    const { kc, c } = await member();
    const held = deliver(kc, batch(0, 2), () => Promise.resolve());
    await c.poll({ maxRecords: 100 });
    expect(held.returned()).toBe(false);
    await c.poll({ maxRecords: 100 });
    await held.done;
    expect(held.resolved).toEqual(["1"]);
  });
});
