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

describe("exactly-once on the real broker", () => {
  it("survives SIGKILL at random moments: the committed output is the uninterrupted one, no duplicate, no loss", async () => {
    const { kafka, input, output, env } = scenario(inject("kafkaBootstrap"), "crash");
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
