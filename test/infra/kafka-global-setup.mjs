// Vitest globalSetup: one real Kafka broker (KRaft, single node, 127.0.0.1) for the whole run.
//
//   // vitest.config.ts (node project):  globalSetup: ["test/infra/kafka-global-setup.mjs"]
//   // in a test:                        const bootstrap = inject("kafkaBootstrap");
//
// With RIVULET_KAFKA=host:port set (e.g. from `node test/infra/kafka.mjs up`), no broker is
// started and that address is provided instead. The address is also put in
// process.env.RIVULET_KAFKA for code that reads the environment.
// TypeScript tests want: declare module "vitest" { interface ProvidedContext { kafkaBootstrap: string } }

import { startKafka } from "./kafka.mjs";

/** @param {{ provide: (key: string, value: unknown) => void }} ctx */
export default async function setup({ provide }) {
  const external = process.env.RIVULET_KAFKA;
  if (external) {
    provide("kafkaBootstrap", external);
    return async () => {};
  }
  const started = Date.now();
  const kafka = await startKafka();
  process.env.RIVULET_KAFKA = kafka.bootstrap;
  provide("kafkaBootstrap", kafka.bootstrap);
  console.log(
    `[kafka] broker ${kafka.version} at ${kafka.bootstrap} (pid ${kafka.pid}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return async function teardown() {
    await kafka.stop();
    delete process.env.RIVULET_KAFKA;
  };
}
