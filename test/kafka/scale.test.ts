import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import {
  eosEvents,
  expectedOutput,
  kafkaClient,
  kill,
  produceEvents,
  readCommitted,
  startWorker,
  waitForProgress,
} from "./workers.js";

describe("scale-out through a consumer group", () => {
  it("3 processes share 6 partitions; one is killed mid-run; the others take over its state; output is exact", async () => {
    const bootstrap = inject("kafkaBootstrap");
    const kafka = kafkaClient(bootstrap);
    const id = randomUUID().slice(0, 8);
    const input = `scale-in-${id}`;
    const output = `scale-out-${id}`;
    const group = `scale-${id}`;
    const events = eosEvents(100_000);
    await produceEvents(kafka, input, events, 6);
    // Windows fire at the end only: partitions that move to a member further ahead in event time
    // would otherwise have late records (the watermark of a running operator never goes back).
    const ooo = 1e12;
    const expected = await expectedOutput(events, 6, ooo);
    const env = (instance: number) => ({
      RIVULET_BROKERS: bootstrap,
      RIVULET_GROUP: group,
      RIVULET_INPUT: input,
      RIVULET_OUTPUT: output,
      RIVULET_INSTANCE: String(instance),
      RIVULET_OUT_OF_ORDERNESS: String(ooo),
    });

    const workers = [0, 1, 2].map((i) => startWorker(env(i)));
    await Promise.all(workers.map((w) => w.ready));
    const done = await waitForProgress(kafka, group, input, 0.15); // all three joined and working
    await kill(workers[1]!);
    expect(done, "killed mid-run: most of the input still to come").toBeLessThan(0.9);
    // Its supervisor starts it again, with the same transactional id: that aborts the transaction
    // the dead process left open, which would otherwise hide newer committed records from
    // read_committed readers until the broker times it out.
    workers.push(startWorker(env(1)));
    await waitForProgress(kafka, group, input).catch((e) => {
      // Say what the members were doing: their own output is the only trace of a stuck group.
      throw new Error(`${e}\n--- worker 0:\n${workers[0]!.output()}\n--- worker 2:\n${workers[2]!.output()}`);
    });
    const alive = [workers[0]!, workers[2]!, workers[3]!];
    for (const w of alive) w.child.kill("SIGTERM");
    const codes = await Promise.all(alive.map((w) => w.exited));
    expect(codes, alive.map((w) => w.output()).join("\n")).toEqual([0, 0, 0]);

    // End of the bounded input: one more member drains, firing the windows still open.
    const last = startWorker({ ...env(3), RIVULET_DRAIN: "1" });
    expect(await last.exited, last.output()).toBe(0);

    const got = await readCommitted(kafka, output, expected.length);
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
  }, 240_000);
});
