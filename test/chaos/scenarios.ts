// The chaos scenarios, in the order they run.
import { browserFaults } from "./browser-worker.js";
import type { Guarantee, Runtime, ScenarioContext, ScenarioResult } from "./common.js";
import { edgeProxyFaults } from "./edge-proxy.js";
import { kafkaBrokerFaults } from "./kafka-broker.js";
import { kafkaProcessFaults } from "./kafka-process.js";
import { soak } from "./soak.js";

export interface Scenario {
  name: string;
  what: string;
  runtime: Runtime;
  guarantee: Guarantee;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export const SCENARIOS: Scenario[] = [
  {
    name: "kafka-sigkill",
    what: "3 members SIGKILLed >= 20 times (in commits, in restores, anywhere), one left dead",
    runtime: "node-kafka",
    guarantee: "exactly-once",
    run: kafkaProcessFaults,
  },
  {
    name: "kafka-broker",
    what: "the broker restarted, crashed and frozen past the session timeout; one partition flooded",
    runtime: "node-kafka",
    guarantee: "exactly-once",
    run: kafkaBrokerFaults,
  },
  {
    name: "edge-proxy",
    what: "an edge job through the REST proxy: 429/503/timeouts/dropped answers, the proxy crashed and restarted",
    runtime: "edge-rest-proxy",
    guarantee: "at-least-once",
    run: edgeProxyFaults,
  },
  {
    name: "browser",
    what: "a job in a Web Worker of real Chromium: the worker terminated, the page reloaded (some mid-restore), the IndexedDB quota hit",
    runtime: "browser",
    guarantee: "exactly-once",
    run: browserFaults,
  },
  {
    name: "soak",
    what: "steady load on a fixed key space for --soak seconds: heap, RSS, window state flat, lag bounded",
    runtime: "node-kafka",
    guarantee: "exactly-once",
    run: soak,
  },
];
