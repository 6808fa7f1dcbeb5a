// The Kafka changelog state store on the real broker: snapshots larger than the broker's record
// limit go in parts, inside the commit's transaction, and restore whole.
import { afterAll, describe, expect, inject, it } from "vitest";
import { KafkaBroker, KafkaChangelogStore } from "../../adapters/node/index.js";
import { count, Pipeline, run } from "../../core/index.js";
import { readTopic, uniq } from "./kafka-helpers.js";

const bootstrap = inject("kafkaBootstrap");
const kafka = new KafkaBroker({ brokers: [bootstrap], clientId: "rivulet-changelog-test" });
afterAll(() => kafka.close());

describe("KafkaChangelogStore", () => {
  it("a section larger than a Kafka record (1 MiB) checkpoints in parts and restores whole", async () => {
    const input = uniq("big-state-in");
    const output = uniq("big-state-out");
    const group = uniq("big-state");
    const keys = 150_000; // ~2.4 MB of rolling counts in one section
    await kafka.createTopic(input, { partitions: 1 });
    const round = (r: number) =>
      Array.from({ length: keys }, (_, i) => ({
        topic: input,
        key: `user-${i}`,
        value: { u: `user-${i}`, r },
      }));
    await kafka.commit({ records: round(1) });
    const counts = () =>
      Pipeline.source<{ u: string; r: number }>(input)
        .keyBy((v) => v.u)
        .aggregate(count())
        .to(output);
    const state = () => new KafkaChangelogStore({ brokers: [bootstrap] });

    const first = state();
    const a = await run(counts(), { broker: kafka, state: first, group, maxBatch: 50_000 });
    await a.flush();
    await a.stop();
    await first.close();
    // The changelog holds the checkpoint in parts, none of them over the limit.
    const changelog = await readTopic(bootstrap, `${group}-changelog`);
    const parts = changelog.filter((r) => r.key?.startsWith(`${group}/0#`));
    expect(parts.length).toBeGreaterThan(2);
    for (const p of parts) expect(Buffer.byteLength(p.value ?? "")).toBeLessThan(1_000_000);

    // A new job in the group restores the whole section: every key counts on from 1.
    await kafka.commit({ records: round(2) });
    const second = state();
    const b = await run(counts(), { broker: kafka, state: second, group, maxBatch: 50_000 });
    await b.drain();
    await second.close();
    const out = await readTopic(bootstrap, output, { min: 2 * keys, timeoutMs: 60_000 });
    const last = new Map<string, number>();
    for (const r of out) last.set(r.key!, JSON.parse(r.value!).value);
    expect(last.size).toBe(keys);
    expect([...last.values()].every((n) => n === 2)).toBe(true);
    expect(b.metrics().records.in).toBe(keys);
  }, 120_000);
});
