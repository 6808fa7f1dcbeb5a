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
} from "./workers.js";

describe("exactly-once on the real broker", () => {
  it("survives SIGKILL at random moments: the committed output is the uninterrupted one, no duplicate, no loss", async () => {
    const bootstrap = inject("kafkaBootstrap");
    const kafka = kafkaClient(bootstrap);
    const id = randomUUID().slice(0, 8);
    const input = `crash-in-${id}`;
    const output = `crash-out-${id}`;
    const events = eosEvents(20_000);
    await produceEvents(kafka, input, events, 6);
    const expected = await expectedOutput(events, 6);

    const env = {
      RIVULET_BROKERS: bootstrap,
      RIVULET_GROUP: `crash-${id}`,
      RIVULET_INPUT: input,
      RIVULET_OUTPUT: output,
    };
    const kills: number[] = [];
    for (let i = 0; i < 6; i++) {
      const w = startWorker(env);
      await w.ready;
      const after = 500 + Math.floor(Math.random() * 5_000);
      await new Promise((r) => setTimeout(r, after));
      await kill(w);
      kills.push(after);
    }
    const last = startWorker({ ...env, RIVULET_DRAIN: "1" });
    const code = await last.exited;
    expect(code, last.output()).toBe(0);

    const got = await readCommitted(kafka, output, expected.length);
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
  }, 240_000);
});
