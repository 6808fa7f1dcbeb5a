import { describe, expect, inject, it } from "vitest";
import { until } from "./kafka-helpers.js";
import {
  appendEvents,
  drainAndRead,
  eosEvents,
  expectedOutput,
  kill,
  produceEvents,
  progress,
  scenario,
  startWorker,
  waitForProgress,
} from "./workers.js";

// Both writers. With producer "platformatic" the member-killed-for-good test once wrote 116
// duplicates of 23,896 outputs: before its first commit a job's consumer let KafkaJS rejoin while
// the job held uncommitted outputs, so in the group's first rebalances two members did the same
// records (the faster writer's slower first transaction widened the window). Fixed in
// kafka-consumer.ts (kafka-consumer.test.ts covers it without a broker).
describe.each(["kafkajs", "platformatic"])(
  "scale-out through a consumer group (producer: %s)",
  (producer) => {
    it("3 processes share 6 partitions; one is killed mid-run and stays dead; the others take over its partitions and state; output is exact", async () => {
      // Per-partition tasks: a partition keeps its own watermark when it moves to a member that
      // is further ahead in event time, so windows fire during the run and nothing comes late.
      const run = { outOfOrderness: 1_000, tasks: "per-partition" } as const;
      const s = scenario(inject("kafkaBootstrap"), "scale", run);
      const { kafka, input, output, group } = s;
      const env = (i: number) => s.env(i, { RIVULET_KAFKA_PRODUCER: producer });
      const events = eosEvents(100_000);
      await produceEvents(kafka, input, events, 6);
      const expected = await expectedOutput(events, 6, run.outOfOrderness, run.tasks);

      const workers = [0, 1, 2].map((i) => startWorker(env(i)));
      await Promise.all(workers.map((w) => w.ready));
      const done = await waitForProgress(kafka, group, input, 0.15); // all three joined and working
      await kill(workers[1]!);
      expect(done, "killed mid-run: most of the input still to come").toBeLessThan(0.9);
      // Nobody restarts it: once its session times out, the group gives its partitions to the
      // other two, which restore their state from the changelog. The transaction it left open
      // hides newer changelog records until the broker aborts it; restores wait for that.
      await waitForProgress(kafka, group, input).catch((e) => {
        // Say what the members were doing: their own output is the only trace of a stuck group.
        throw new Error(
          `${e}\n--- worker 0:\n${workers[0]!.output()}\n--- worker 2:\n${workers[2]!.output()}`,
        );
      });
      const alive = [workers[0]!, workers[2]!];
      for (const w of alive) w.child.kill("SIGTERM");
      const codes = await Promise.all(alive.map((w) => w.exited));
      expect(codes, alive.map((w) => w.output()).join("\n")).toEqual([0, 0]);
      const late = alive.map((w) => JSON.parse(/done (.*)/.exec(w.output())?.[1] ?? "{}").late);
      expect(late, "no record counted late on a takeover").toEqual([0, 0]);

      // End of the bounded input: one more member drains, firing the windows still open.
      const got = await drainAndRead(env(3), kafka, output, expected.length);
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
    }, 240_000);

    it("a member paused past its session timeout wakes up as a zombie: nothing it did lands, it rejoins, output is exact", async () => {
      const run = { outOfOrderness: 1_000, tasks: "per-partition" } as const;
      const s = scenario(inject("kafkaBootstrap"), "zombie", run);
      const { kafka, input, output, group } = s;
      const env = (i: number) => s.env(i, { RIVULET_KAFKA_PRODUCER: producer });
      const events = eosEvents(100_000);
      await produceEvents(kafka, input, events.slice(0, 50_000), 6);
      const expected = await expectedOutput(events, 6, run.outOfOrderness, run.tasks);
      const workers = [0, 1, 2].map((i) => startWorker(env(i)));
      await Promise.all(workers.map((w) => w.ready));
      const zombie = workers[1]!;
      const outputs = () => workers.map((w, i) => `--- worker ${i}:\n${w.output()}`).join("\n");
      // Working, with its clients connected (a pause in a connect would fail its deadline instead).
      // A member that joins last may find its partitions' input already done by the first one: more
      // input comes until it has committed twice.
      let next = 50_000;
      await until(
        async () => {
          if (progress(zombie).checkpoints > 1) return true;
          if (next < 60_000) {
            await appendEvents(kafka, input, events.slice(next, next + 1_000));
            next += 1_000;
          }
          return false;
        },
        "the member to be paused is working",
        90_000,
      ).catch((e) => {
        throw new Error(`${e}\n${outputs()}`);
      });
      // SIGSTOP: it stops mid-work (often mid-commit) and misses its heartbeats; after the
      // session timeout (6 s) the group hands its partitions to the other two, which move them on.
      zombie.child.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, 12_000));
      const before = progress(zombie).records;
      zombie.child.kill("SIGCONT");
      // Awake, it must neither commit what it held nor move the group's offsets back; it rejoins
      // as a new member, gets partitions again, and restores them from the changelog.
      // More input keeps coming until it has rejoined and works on its new partitions.
      while (progress(zombie).records === before && next < 90_000) {
        await appendEvents(kafka, input, events.slice(next, next + 1_000));
        next += 1_000;
        await new Promise((r) => setTimeout(r, 250));
      }
      await appendEvents(kafka, input, events.slice(next));
      await waitForProgress(kafka, group, input).catch((e) => {
        throw new Error(`${e}\n${outputs()}`);
      });
      expect(
        progress(zombie).records,
        `the woken member rejoined and worked again:\n${zombie.output()}`,
      ).toBeGreaterThan(before);
      for (const w of workers) w.child.kill("SIGTERM");
      const codes = await Promise.all(workers.map((w) => w.exited));
      expect(codes, workers.map((w) => w.output()).join("\n")).toEqual([0, 0, 0]);

      const got = await drainAndRead(env(3), kafka, output, expected.length);
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
    }, 240_000);
  },
);
