import { describe, expect, inject, it } from "vitest";
import {
  drainAndRead,
  eosEvents,
  expectedOutput,
  kill,
  produceEvents,
  scenario,
  startWorker,
} from "./workers.js";

// The job processes write with KafkaJS (the default) and with @platformatic/kafka.
describe.each(["kafkajs", "platformatic"])("exactly-once on the real broker (producer: %s)", (producer) => {
  it("survives SIGKILL at random moments: the committed output is the uninterrupted one, no duplicate, no loss", async () => {
    const s = scenario(inject("kafkaBootstrap"), "crash");
    const { kafka, input, output } = s;
    const env = (i: number) => s.env(i, { RIVULET_KAFKA_PRODUCER: producer });
    const events = eosEvents(20_000);
    await produceEvents(kafka, input, events, 6);
    const expected = await expectedOutput(events, 6);

    const kills: number[] = [];
    for (let i = 0; i < 6; i++) {
      const w = startWorker(env(0));
      await w.ready;
      const after = 500 + Math.floor(Math.random() * 5_000);
      await new Promise((r) => setTimeout(r, after));
      await kill(w);
      kills.push(after);
    }
    const got = await drainAndRead(env(0), kafka, output, expected.length);
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
  }, 240_000);
});
