/**
 * `rivulet proxy`: serves the Kafka REST proxy (Confluent's v2 API) until SIGINT or SIGTERM,
 * which close it cleanly (consumer instances leave their groups) and exit 0.
 *
 * @example
 * // rivulet proxy --brokers 127.0.0.1:9092 --port 8082 --token s3cret
 * const code = await proxyCommand(["--brokers", "127.0.0.1:9092", "--port", "8082"], io);
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeError, isRivuletError } from "../../../core/index.js";
import type { CliIo } from "../cli.js";
import {
  KAFKA_SECURITY_OPTIONS,
  type KafkaSecurity,
  kafkaSecurity,
  kafkaSecurityUsage,
  UsageError,
} from "../kafka-security-flags.js";

export const PROXY_USAGE = `Usage: rivulet proxy --brokers <host:port,...> --port <n> [options]

Serves Kafka over HTTP: a Kafka REST proxy speaking Confluent's REST Proxy v2 API (produce,
topic metadata, consumer instances), for edge workers, browsers and anything with fetch.
SIGINT or SIGTERM close it cleanly (consumer instances leave their groups) and exit 0.

Options:
  --brokers <list>          Kafka bootstrap servers, host:port[,host:port] (required)
  --port <n>                port to listen on (required; 0: any free port)
  --host <addr>             interface to bind (default 127.0.0.1)
  --token <t>               bearer token clients must send (repeat for several); also read
                            from RIVULET_PROXY_TOKENS (comma-separated). None: no auth
  --cors-origin <origin>    an origin whose pages may call the proxy from a browser
                            (scheme://host[:port]; repeat for several; default none)
  --body-limit <bytes>      largest request body (default 8388608)
  --rate-limit <n>          requests per second per client (token or address; default 200,
                            0: no limit); beyond it 429 with Retry-After
  --rate-burst <n>          requests a client may make at once (default 2 x --rate-limit)
  --instance-timeout <ms>   consumer instances idle this long are closed (default 300000)
  --base-url <url>          base URL in base_uri answers (default: the request's origin)
  --client-id <id>          Kafka client id (default rivulet-rest-proxy)
  --log-level <level>       KafkaJS logs: nothing, error, warn (default), info, debug
  --producer <client>       the client that writes: kafkajs (default, or RIVULET_KAFKA_PRODUCER)
                            or platformatic (@platformatic/kafka: npm install @platformatic/kafka)
  -h, --help                show this help

Kafka security (the proxy's clients: producer, admin, every consumer instance):
${kafkaSecurityUsage(28)}
Prints the proxy's URL on stdout once it listens.

Example:
  rivulet proxy --brokers 127.0.0.1:9092 --port 8082 --token "$PROXY_TOKEN"
  RIVULET_SASL_PASSWORD=... rivulet proxy --brokers kafka:9094 --port 8082 --token "$PROXY_TOKEN" \\
    --sasl-mechanism scram-sha-512 --sasl-username proxy --tls
`;

interface ProxyCommand {
  brokers: string[];
  port: number;
  host: string;
  tokens: string[];
  corsOrigins: string[];
  bodyLimit: number | undefined;
  rate: number | undefined;
  burst: number | undefined;
  instanceTimeout: number | undefined;
  baseUrl: string | undefined;
  clientId: string | undefined;
  logLevel: "nothing" | "error" | "warn" | "info" | "debug" | undefined;
  producer: "kafkajs" | "platformatic" | undefined;
  security: KafkaSecurity;
}

function integer(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function parse(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): ProxyCommand {
  let parsed: ReturnType<typeof parseProxyArgs>;
  try {
    parsed = parseProxyArgs(args);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (v.brokers === undefined) throw new UsageError("--brokers host:port[,host:port] is required");
  const brokers = v.brokers
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  for (const b of brokers)
    if (!/^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.test(b))
      throw new UsageError(`--brokers: "${b}" is not host:port (e.g. 127.0.0.1:9092)`);
  if (brokers.length === 0) throw new UsageError("--brokers needs at least one host:port");
  const port = integer("--port", v.port, 0, 65_535);
  if (port === undefined) throw new UsageError("--port <n> is required");
  const tokens = [
    ...(v.token ?? []),
    ...(env.RIVULET_PROXY_TOKENS ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  ];
  const level = v["log-level"];
  if (level !== undefined && !["nothing", "error", "warn", "info", "debug"].includes(level))
    throw new UsageError(`--log-level must be nothing, error, warn, info or debug, got "${level}"`);
  const producer = v.producer;
  if (producer !== undefined && producer !== "kafkajs" && producer !== "platformatic")
    throw new UsageError(`--producer must be kafkajs or platformatic, got "${producer}"`);
  if (v["base-url"] !== undefined && !/^https?:\/\/[^/]/.test(v["base-url"]))
    throw new UsageError(`--base-url must be an http(s) URL, got "${v["base-url"]}"`);
  const corsOrigins = v["cors-origin"] ?? [];
  for (const o of corsOrigins)
    if (!/^https?:\/\/[^/\s]+$/.test(o))
      throw new UsageError(`--cors-origin must be an origin (scheme://host[:port], no path), got "${o}"`);
  const security = kafkaSecurity(v, { env, cwd });
  return {
    brokers,
    port,
    host: v.host ?? "127.0.0.1",
    tokens,
    corsOrigins,
    bodyLimit: integer("--body-limit", v["body-limit"], 1, 2 ** 31),
    rate: integer("--rate-limit", v["rate-limit"], 0, 1_000_000),
    burst: integer("--rate-burst", v["rate-burst"], 1, 1_000_000),
    instanceTimeout: integer("--instance-timeout", v["instance-timeout"], 1, 2 ** 31),
    baseUrl: v["base-url"],
    clientId: v["client-id"],
    logLevel: level as ProxyCommand["logLevel"],
    producer,
    security,
  };
}

const OPTIONS = {
  brokers: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  token: { type: "string", multiple: true },
  "cors-origin": { type: "string", multiple: true },
  "body-limit": { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string" },
  "instance-timeout": { type: "string" },
  "base-url": { type: "string" },
  "client-id": { type: "string" },
  "log-level": { type: "string" },
  producer: { type: "string" },
  ...KAFKA_SECURITY_OPTIONS,
} as const;

function parseProxyArgs(args: readonly string[]) {
  return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
}

/** Runs `rivulet proxy` and resolves with the exit code (0 stopped by a signal, 1 failed, 2 bad usage). */
export async function proxyCommand(args: readonly string[], io: CliIo, env = process.env): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    io.stdout.write(PROXY_USAGE);
    return 0;
  }
  let cmd: ProxyCommand;
  try {
    cmd = parse(args, io.env ?? env, io.cwd ?? process.cwd());
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`rivulet: ${e.message}\nRun "rivulet proxy --help" for usage.\n`);
    return 2;
  }
  let signalled!: (signal: string) => void;
  let again!: (signal: string) => void;
  const signal = new Promise<string>((r) => (signalled = r));
  const forced = new Promise<string>((r) => (again = r));
  let count = 0;
  const dispose = (io.onSignal ?? processSignals)((s) => (count++ === 0 ? signalled(s) : again(s)));
  try {
    const { serveRestProxy } = await import("./serve.js");
    const options: Parameters<typeof serveRestProxy>[0] = {
      brokers: cmd.brokers,
      port: cmd.port,
      host: cmd.host,
    };
    if (cmd.tokens.length > 0) options.tokens = cmd.tokens;
    if (cmd.corsOrigins.length > 0) options.corsOrigins = cmd.corsOrigins;
    if (cmd.bodyLimit !== undefined) options.bodyLimit = cmd.bodyLimit;
    if (cmd.rate === 0) options.rateLimit = false;
    else if (cmd.rate !== undefined || cmd.burst !== undefined) {
      const requestsPerSecond = cmd.rate ?? 200;
      options.rateLimit = { requestsPerSecond, burst: cmd.burst ?? requestsPerSecond * 2 };
    }
    if (cmd.instanceTimeout !== undefined) options.instanceTimeout = cmd.instanceTimeout;
    if (cmd.baseUrl !== undefined) options.baseUrl = cmd.baseUrl;
    if (cmd.clientId !== undefined) options.clientId = cmd.clientId;
    if (cmd.logLevel !== undefined) options.logLevel = cmd.logLevel;
    if (cmd.producer !== undefined) options.producer = cmd.producer;
    const { sasl, ssl } = cmd.security.config;
    if (sasl !== undefined) options.sasl = sasl;
    if (ssl !== undefined) options.ssl = ssl;
    for (const warning of cmd.security.warnings) io.stderr.write(`rivulet: warning: ${warning}\n`);
    if (ssl !== undefined) {
      const { tlsProblem } = await import("../tls-preflight.js");
      const problem = await tlsProblem(cmd.brokers, ssl);
      if (problem !== undefined) {
        io.stderr.write(`rivulet: ${problem}\n`);
        return 1;
      }
    }
    const starting = serveRestProxy(options);
    const first = await Promise.race([starting, signal.then((s) => ({ signal: s }))]);
    if ("signal" in first) {
      void starting.then((s) => s.close()).catch(() => {});
      io.stderr.write(`rivulet: ${first.signal} during start-up: exiting\n`);
      return 0;
    }
    const server = first;
    io.stderr.write(
      `rivulet: Kafka REST proxy (v2) at ${server.url} for Kafka at ${cmd.brokers.join(",")}${
        cmd.security.summary === "" ? "" : ` (${cmd.security.summary})`
      }; auth: ${cmd.tokens.length > 0 ? `bearer token (${cmd.tokens.length})` : "none"}\n`,
    );
    io.stdout.write(`${server.url}\n`);
    const s = await signal;
    io.stderr.write(`rivulet: ${s}: closing the proxy...\n`);
    const closed = await Promise.race([server.close().then(() => true), forced.then(() => false)]);
    if (!closed) {
      io.stderr.write("rivulet: a second signal: exiting without waiting\n");
      return 130;
    }
    io.stderr.write("rivulet: proxy closed\n");
    return 0;
  } catch (e) {
    io.stderr.write(`rivulet: ${isRivuletError(e) ? e.message : describeError(e)}\n`);
    return 1;
  } finally {
    dispose();
  }
}

function processSignals(handler: (signal: string) => void): () => void {
  const on = (signal: NodeJS.Signals) => handler(signal);
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
}
