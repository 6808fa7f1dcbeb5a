// The oracle: a case run on the in-memory broker, one job from start to end. Every other row's
// output is compared with it. Bundleable: imports "rivulet" and "rivulet/testing" only, so a
// worker can compute it in place.
import { type BrokerCapabilities, type RunOptions, run, type StateStore, type TaskMode } from "rivulet";
import { FakeClock, MemoryBroker } from "rivulet/testing";
import { type CaseEnv, type ConformanceCase, type Counts, DEFAULT_ENV } from "./case.js";
import { type CaseRun, caseRunOptions, collectRun, loadInput } from "./harness.js";

export interface MemoryRunOptions {
  env?: CaseEnv;
  /** Default: the case's first mode. */
  tasks?: TaskMode;
  /** Records per partition per poll (default: the engine's, 1000). */
  maxBatch?: number;
  /** What the broker can do (default: everything, as Kafka's transactions). */
  capabilities?: Partial<BrokerCapabilities>;
  /** Checkpoint to this store (every batch). */
  state?: StateStore;
}

/** A memory broker holding the case's input, as the given capabilities make it behave. */
export async function loadedMemoryBroker(
  c: ConformanceCase,
  env: CaseEnv = DEFAULT_ENV,
  capabilities: Partial<BrokerCapabilities> = {},
): Promise<MemoryBroker> {
  const broker = new MemoryBroker(capabilities);
  broker.now = () => env.base;
  await loadInput(broker, c, env);
  return broker;
}

/** The run options of a case on a memory broker: manual, with a clock standing at `env.base`. */
export function memoryRunOptions(
  c: ConformanceCase,
  broker: MemoryBroker,
  options: MemoryRunOptions = {},
): RunOptions {
  const env = options.env ?? DEFAULT_ENV;
  const o: RunOptions = {
    broker,
    ...caseRunOptions(c, env, options.tasks),
    group: `conformance-${c.name}`,
    manual: true,
    // Nothing in a case reads processing time; a clock that stands still keeps it so.
    clock: new FakeClock(env.base),
  };
  if (options.maxBatch !== undefined) o.maxBatch = options.maxBatch;
  if (options.state) o.state = options.state;
  return o;
}

/** The records of a memory broker's output topics, in the case's logical terms. */
export function collectMemory(
  c: ConformanceCase,
  broker: MemoryBroker,
  env: CaseEnv = DEFAULT_ENV,
  counts?: Counts,
): Promise<CaseRun> {
  return collectRun(c, env, (t) => broker.records(t), counts);
}

/** Runs a case on the in-memory broker, one job from the first record to the end (`drain`). */
export async function runInMemory(c: ConformanceCase, options: MemoryRunOptions = {}): Promise<CaseRun> {
  const env = options.env ?? DEFAULT_ENV;
  const broker = await loadedMemoryBroker(c, env, options.capabilities);
  const job = await run(c.pipeline(env), memoryRunOptions(c, broker, options));
  await job.drain();
  return collectMemory(c, broker, env, job.metrics().records);
}

/**
 * The oracle of a case: its in-memory run in the case's first task mode, with the engine's
 * default batch size.
 *
 * @example
 * const expected = await oracle(caseNamed("session-windows"), env);
 */
export function oracle(c: ConformanceCase, env: CaseEnv = DEFAULT_ENV): Promise<CaseRun> {
  return runInMemory(c, { env });
}
