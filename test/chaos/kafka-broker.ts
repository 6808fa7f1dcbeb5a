// Kafka, broker faults: three members run the stateful windowed pipeline exactly-once (as in
// kafka-sigkill) against a broker of the scenario's own (other ports, other data), while input
// keeps coming. The broker is stopped and started again twice (a clean SIGTERM, then a SIGKILL
// crash), then frozen with SIGSTOP for longer than the members' session timeout and let go;
// last, one partition is flooded until its consumer lag is millions of records (the quick run: a
// few hundred thousand) and the group catches up. The jobs must ride all of it out with their
// retries, and the committed output must be the uninterrupted run's, exactly.
import type { Admin, Kafka } from "kafkajs";
import { partitionForKey } from "../../core/index.js";
import type { Ev } from "../fixtures/eos-pipeline.js";
import { type ControlledKafka, startControlledKafka } from "../infra/kafka-control.js";
import {
  appendEvents,
  eosEvents,
  expectedOutput,
  produceEvents,
  readCommitted,
  scenario,
  waitForProgress,
} from "../kafka/workers.js";
import {
  countAgainst,
  result,
  type ScenarioContext,
  type ScenarioResult,
  sampleDifferences,
  sleep,
  until,
} from "./common.js";
import { killMember, lastLines, type Member, startMember, stopMember } from "./members.js";

const PARTITIONS = 6;
const MEMBERS = 3;
const OUT_OF_ORDERNESS = 1_000;
const SESSION_TIMEOUT = 6_000;

export async function kafkaBrokerFaults(ctx: ScenarioContext): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const steady = ctx.quick ? 120_000 : 400_000;
  const burst = ctx.quick ? 200_000 : 2_500_000;
  const faults = { restart: 0, crash: 0, pause: 0, floodedRecords: 0 };
  const problems: string[] = [];
  const selfExits: string[] = [];
  const recovery: Record<string, number> = {};
  let broker: ControlledKafka | undefined;
  const members: Member[] = [];
  let supervising = true;
  let feeding = false;
  let feeder: Promise<void> = Promise.resolve();
  let admin: Admin | undefined;
  try {
    broker = await startControlledKafka();
    ctx.log(`kafka-broker: own broker at ${broker.bootstrap} (pid ${broker.pid()})`);
    const { kafka, input, output, group, env } = scenario(broker.bootstrap, "chaos-broker", {
      outOfOrderness: OUT_OF_ORDERNESS,
      tasks: "per-partition",
    });
    const events = withFlood(eosEvents(steady + burst), steady, PARTITIONS);
    let fed = 20_000;
    await produceEvents(kafka, input, events.slice(0, fed), PARTITIONS);
    admin = kafka.admin();
    await admin.connect();

    const memberEnv = (i: number, extra: Record<string, string> = {}) =>
      env(i, {
        RIVULET_MAX_BATCH: "1000",
        RIVULET_SESSION_TIMEOUT: String(SESSION_TIMEOUT),
        RIVULET_HEARTBEAT_INTERVAL: "1000",
        // Backoff up to 5 s, 30 times: rides out a broker away for well over a minute.
        RIVULET_RETRIES: "30",
        ...extra,
      });
    /** A member started again when it exits by itself (noted: that is a job failing). */
    const supervise = (i: number) => {
      const m = startMember(memberEnv(i));
      members[i] = m;
      void m.exited.then((code) => {
        if (!supervising) return;
        selfExits.push(`member ${i} (${code}): ${lastLines(m.output(), 10)}`);
        ctx.log(`kafka-broker: member ${i} exited by itself (${code}); started again`);
        supervise(i);
      });
    };
    for (let i = 0; i < MEMBERS; i++) supervise(i);
    await Promise.all(members.map((m) => m.ready));
    await waitForProgress(kafka, group, input, 0.05, 120_000);

    // Input keeps coming, except while the broker is being stopped or frozen (the feeder's own
    // writes are not under test: each lands exactly once, checked against the end offsets).
    /** Starts feeding `size` records at a time up to `to`; resolves when it got there or was stopped. */
    const feed = (to: number, size: number, pauseMs: number) => {
      if (feeding) throw new Error("a feeder is running already");
      feeding = true;
      feeder = (async () => {
        try {
          while (feeding && fed < to) {
            const slice = events.slice(fed, Math.min(fed + size, to));
            await appendExactly(kafka, admin!, input, slice, fed);
            fed += slice.length;
            if (pauseMs > 0) await sleep(pauseMs);
          }
        } finally {
          feeding = false;
        }
      })();
      return feeder;
    };
    const stopFeeding = async () => {
      feeding = false;
      await feeder;
    };
    const committed = () => committedTotal(admin!, group, input);
    const recovered = async (name: string, from: number, before: number) => {
      await until(
        async () => ((await committedTotal(admin!, group, input).catch(() => -1)) ?? -1) > before,
        `the group commits again after ${name}`,
        180_000,
        250,
      );
      recovery[name] = Math.round((Date.now() - from) / 100) / 10;
      ctx.log(`kafka-broker: ${name}: the group commits again ${recovery[name]} s after the fault began`);
    };
    /** Input at a steady pace for `ms`, then none (the next fault begins with the feeder stopped). */
    const runFor = async (ms: number) => {
      await stopFeeding();
      void feed(steady, 1_000, 250);
      await sleep(ms);
      await stopFeeding();
    };
    const between = ctx.quick ? 3_000 : 15_000;

    await runFor(between);
    let mark = await committed();
    let t = Date.now();
    const down1 = await broker.restart("SIGTERM", 1_000);
    faults.restart++;
    ctx.log(`kafka-broker: restarted (SIGTERM), unreachable ${down1.toFixed(1)} s`);
    void feed(steady, 1_000, 250);
    await recovered("restart", t, mark);
    await runFor(between);

    mark = await committed();
    t = Date.now();
    const down2 = await broker.restart("SIGKILL", 1_000);
    faults.crash++;
    ctx.log(`kafka-broker: crashed (SIGKILL) and started again, unreachable ${down2.toFixed(1)} s`);
    void feed(steady, 1_000, 250);
    await recovered("crash", t, mark);
    await runFor(between);

    mark = await committed();
    t = Date.now();
    broker.pause();
    await sleep(SESSION_TIMEOUT + 4_000);
    broker.resume();
    faults.pause++;
    ctx.log(
      `kafka-broker: frozen (SIGSTOP) ${(SESSION_TIMEOUT + 4_000) / 1_000} s, past the ${SESSION_TIMEOUT / 1_000} s session timeout`,
    );
    void feed(steady, 1_000, 250);
    await recovered("pause", t, mark);
    await runFor(between);
    // What is left of the steady input. Then the members stop (a deploy, an outage of the
    // consumers) while one partition is flooded as fast as the feeder can write; they start
    // again and catch up.
    await stopFeeding();
    await feed(steady, 5_000, 0);
    await waitForProgress(kafka, group, input, 1, 120_000);
    supervising = false;
    const stopped = await Promise.all(members.map((m) => stopMember(m)));
    if (stopped.some((c) => c !== 0)) problems.push(`members stopped with ${stopped.join(", ")}`);
    t = Date.now();
    await feed(steady + burst, 20_000, 0);
    faults.floodedRecords = burst;
    const floodSeconds = (Date.now() - t) / 1_000;
    const lags = await partitionLags(admin, group, input);
    const peakLag = lags.reduce((a, b) => a + b, 0);
    const peakPartitionLag = Math.max(...lags);
    ctx.log(
      `kafka-broker: ${burst} records flooded into one partition in ${floodSeconds.toFixed(1)} s; its lag ${peakPartitionLag}`,
    );
    if (peakPartitionLag < burst) problems.push(`the flood built a lag of ${peakPartitionLag} records only`);
    t = Date.now();
    supervising = true;
    for (let i = 0; i < MEMBERS; i++) supervise(i);
    await waitForProgress(kafka, group, input, 1, ctx.quick ? 180_000 : 1_800_000);
    const lagRecoverySeconds = (Date.now() - t) / 1_000;
    ctx.log(`kafka-broker: a lag of ${peakLag} caught up in ${lagRecoverySeconds.toFixed(1)} s`);

    supervising = false;
    const codes = await Promise.all(members.map((m) => stopMember(m)));
    if (codes.some((c) => c !== 0)) problems.push(`members stopped with ${codes.join(", ")}`);
    const drainer = startMember(memberEnv(9, { RIVULET_DRAIN: "1" }));
    if ((await drainer.exited) !== 0) problems.push(`the draining member failed:\n${drainer.output()}`);
    const expected = await expectedOutput(
      events.slice(0, fed),
      PARTITIONS,
      OUT_OF_ORDERNESS,
      "per-partition",
    );
    const got = await readCommitted(kafka, output, expected.length);
    const counted = countAgainst(expected, got);
    if (counted.lost || counted.duplicated || counted.unexpected)
      problems.push(...sampleDifferences(expected, got));
    if (selfExits.length > 0)
      problems.push(`${selfExits.length} members exited by themselves:\n${selfExits.join("\n---\n")}`);
    return result({
      scenario: "kafka-broker",
      runtime: "node-kafka",
      guarantee: "exactly-once",
      in: fed,
      counted,
      faults,
      startedAt,
      problems,
      details: {
        members: MEMBERS,
        partitions: PARTITIONS,
        sessionTimeoutMs: SESSION_TIMEOUT,
        unreachableSeconds: { restart: down1, crash: down2 },
        recoverySeconds: recovery,
        peakLag,
        peakPartitionLag,
        floodSeconds,
        lagRecoverySeconds,
      },
    });
  } finally {
    supervising = false;
    feeding = false;
    await feeder.catch(() => {});
    for (const m of members) await killMember(m);
    await admin?.disconnect().catch(() => {});
    broker?.resume();
    await broker?.stop();
  }
}

/** The events from `from` on go to one partition: their keys are swapped for keys of partition 0. */
function withFlood(events: Ev[], from: number, partitions: number): Ev[] {
  const hot = Array.from({ length: 400 }, (_, i) => `key-${i}`).filter(
    (k) => partitionForKey(k, partitions) === 0,
  );
  for (let i = from; i < events.length; i++) events[i] = { ...events[i]!, k: hot[i % hot.length]! };
  return events;
}

/** Offsets committed by the group over all partitions (undefined while the broker is away). */
async function committedTotal(admin: Admin, group: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

async function partitionLags(admin: Admin, group: string, topic: string): Promise<number[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return ends.map((e) => {
    const c = t?.partitions.find((p) => p.partition === e.partition);
    return Number(e.high) - Math.max(0, Number(c?.offset ?? 0));
  });
}

/**
 * Appends `events` (which follow the `before` records already in the topic) exactly once: a
 * write that failed is looked up in the end offsets, and written again only if it is not there.
 */
async function appendExactly(kafka: Kafka, admin: Admin, topic: string, events: Ev[], before: number) {
  for (let attempt = 0; ; attempt++) {
    try {
      await appendEvents(kafka, topic, events);
      return;
    } catch (e) {
      const ends = await admin.fetchTopicOffsets(topic).catch(() => undefined);
      const total = ends?.reduce((n, p) => n + Number(p.high), 0);
      if (total === before + events.length) return;
      if (total !== before || attempt >= 5)
        throw new Error(
          `feeding the input failed (${total ?? "?"} records, want ${before} or ${before + events.length}): ${e}`,
        );
      await sleep(1_000);
    }
  }
}
