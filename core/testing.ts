/**
 * What tests, the playground and users' own tests drive Rivulet with: simulated topics, a clock
 * that moves when told, and a deterministic Nexmark generator.
 *
 * @example
 * import { MemoryBroker, FakeClock } from "rivulet/testing";
 *
 * @module
 */
export {
  type AdoptedColumns,
  MemoryBroker,
  type MemoryBrokerOptions,
  REST_PROXY_CAPABILITIES,
} from "./broker/memory-broker.js";
export type { DeferredColumns } from "./broker/memory-log.js";
export { FakeClock } from "./testing/fake-clock.js";
export {
  type Auction,
  type Bid,
  generateNexmark,
  generateNexmarkBatch,
  NEXMARK_DEFAULTS,
  type NexmarkBatch,
  type NexmarkConfig,
  type NexmarkEvent,
  type NexmarkEventKind,
  nexmarkEvent,
  nexmarkEvents,
  nexmarkWatermark,
  type Person,
  type ResolvedNexmarkConfig,
  resolveNexmarkConfig,
} from "./testing/nexmark.js";
export { dropRepeats } from "./testing/repeats.js";
