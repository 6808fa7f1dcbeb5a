import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    /** `host:port` of the suite's Kafka broker (test/infra/kafka-global-setup.mjs). */
    kafkaBootstrap: string;
  }
}
