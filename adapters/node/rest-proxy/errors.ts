/**
 * The proxy's errors: every failure is answered with Confluent's v2 error body
 * `{ "error_code": <code>, "message": "..." }` and the HTTP status that goes with the code
 * (Confluent's codes: 40401 topic not found, 40403 consumer instance not found, 50003 a retriable
 * Kafka error ...; plain HTTP failures carry their status as the code, as Confluent's do).
 * Never a stack trace.
 *
 * @example
 * throw proxyErrors.topicNotFound("clicks"); // 404 { error_code: 40401, message: 'Topic not found: "clicks".' }
 *
 * @module
 */
import { describeError } from "../../../core/index.js";
import { isRetriable, protocolType } from "../kafka-errors.js";

/** A request answered with a v2 error body. */
export class ProxyError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ProxyError";
  }

  get body(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const proxyErrors = {
  badRequest: (message: string) => new ProxyError(400, 400, `Bad Request: ${message}`),
  /** Kafka's InvalidTopicException (Confluent: 400, KAFKA_BAD_REQUEST 40002). */
  invalidTopic: (problem: string) => new ProxyError(400, 40002, `Invalid topic: ${problem}`),
  unauthorized: (message: string) => new ProxyError(401, 401, `Unauthorized: ${message}`),
  notFound: (path: string) => new ProxyError(404, 404, `HTTP 404 Not Found: ${path}`),
  topicNotFound: (topic: string) => new ProxyError(404, 40401, `Topic not found: "${topic}".`),
  partitionNotFound: (topic: string, partition: number | string, where?: string) =>
    new ProxyError(404, 40402, `Partition not found: ${topic}[${partition}]${where ? ` (${where})` : ""}.`),
  instanceNotFound: (group: string, name: string) =>
    new ProxyError(404, 40403, `Consumer instance not found: "${name}" in group "${group}".`),
  notAcceptable: (accept: string) =>
    new ProxyError(406, 406, `HTTP 406 Not Acceptable: nothing this resource returns matches "${accept}"`),
  formatMismatch: (format: string) =>
    new ProxyError(
      406,
      40601,
      `The requested embedded data format does not match the deserializer for this consumer instance (format ${format}: Accept application/vnd.kafka.${format}.v2+json)`,
    ),
  instanceExists: (group: string, name: string) =>
    new ProxyError(
      409,
      40902,
      `Consumer with specified consumer ID already exists in the specified consumer group: "${name}" in "${group}".`,
    ),
  illegalState: (message: string) => new ProxyError(409, 40903, `Illegal state: ${message}`),
  tooLarge: (limit: number) =>
    new ProxyError(413, 413, `HTTP 413 Payload Too Large: the request body is larger than ${limit} bytes`),
  unsupportedMediaType: (message: string) =>
    new ProxyError(415, 415, `HTTP 415 Unsupported Media Type: ${message}`),
  /** A field missing or of the wrong kind (Confluent's constraint violations: 422). */
  unprocessable: (message: string) => new ProxyError(422, 422, message),
  jsonConversion: (message: string) =>
    new ProxyError(422, 42203, `Conversion of JSON to Object failed: ${message}`),
  invalidConsumerConfig: (message: string) =>
    new ProxyError(422, 42204, `Invalid consumer configuration: ${message}`),
  consumerConfigConstraint: (message: string) =>
    new ProxyError(
      422,
      40001,
      `Invalid consumer configuration. It does not abide by the constraints: ${message}`,
    ),
  payload: (message: string) => new ProxyError(422, 42206, `Payload error. ${message}`),
  tooManyRequests: (retryAfterSeconds: number) =>
    new ProxyError(
      429,
      429,
      "Request rate limit exceeded: the rate limit of requests per second has been exceeded.",
      { "Retry-After": String(retryAfterSeconds) },
    ),
  internal: () => new ProxyError(500, 500, "Internal Server Error"),
};

/** Protocol errors a client caused, with the status and code Confluent's proxy answers them with. */
const CLIENT_SIDE: Record<string, [status: number, code: number]> = {
  INVALID_TOPIC_EXCEPTION: [400, 40002],
  OFFSET_METADATA_TOO_LARGE: [422, 422],
  INVALID_COMMIT_OFFSET_SIZE: [422, 422],
  TOPIC_AUTHORIZATION_FAILED: [403, 40301],
  GROUP_AUTHORIZATION_FAILED: [403, 40301],
  CLUSTER_AUTHORIZATION_FAILED: [403, 40301],
  SASL_AUTHENTICATION_FAILED: [401, 40101],
  // A group whose members use another assignment protocol (e.g. Rivulet jobs on KafkaBroker).
  INCONSISTENT_GROUP_PROTOCOL: [409, 40903],
};

/**
 * Anything a Kafka call threw, as a v2 error: Confluent's 50003 ("Retriable Kafka error",
 * trying again may work) or 50002 ("Kafka error"), or the client-side code of a protocol error
 * the request caused.
 */
export function kafkaError(what: string, e: unknown): ProxyError {
  if (e instanceof ProxyError) return e;
  const type = protocolType(e);
  const known = type === undefined ? undefined : CLIENT_SIDE[type];
  if (known) return new ProxyError(known[0], known[1], `${what}: ${describeError(e)}`);
  if (isRetriable(e))
    return new ProxyError(500, 50003, `Retriable Kafka error: ${what}: ${describeError(e)}`);
  return new ProxyError(500, 50002, `Kafka error: ${what}: ${describeError(e)}`);
}
