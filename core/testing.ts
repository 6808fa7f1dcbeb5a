/**
 * What tests, the playground and users' own tests drive Rivulet with: simulated topics, a clock
 * that moves when told, and (soon) the Nexmark generator.
 *
 * @example
 * import { MemoryBroker, FakeClock } from "rivulet/testing";
 *
 * @module
 */
export { MemoryBroker } from "./broker/memory-broker.js";
export { FakeClock } from "./testing/fake-clock.js";
