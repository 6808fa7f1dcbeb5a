/**
 * The Kafka security flags `rivulet run` and `rivulet proxy` share (SASL and TLS), parsed in one
 * place into KafkaJS's `sasl` and `ssl` config, and the usage error both commands throw.
 *
 * Secrets never come from a flag's value (it would show in `ps` and in shell history): the SASL
 * password is read from an environment variable or a file. Files are read and checked here, at
 * start-up, so a wrong path or a key that does not match its certificate is a usage error (exit
 * 2) naming the flag, not a TLS failure deep in a connection retry.
 *
 * @example
 * const { values } = parseArgs({ args, options: { ...KAFKA_SECURITY_OPTIONS } });
 * const security = kafkaSecurity(values, { env: process.env, cwd: process.cwd() });
 * new KafkaBroker({ brokers, ...security.config });
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import type { SASLOptions } from "kafkajs";

/** A usage problem: the command prints it with a pointer to its help and exits 2. */
export class UsageError extends Error {}

/** `parseArgs` options of the security flags, to spread into a command's own. */
export const KAFKA_SECURITY_OPTIONS = {
  "sasl-mechanism": { type: "string" },
  "sasl-username": { type: "string" },
  "sasl-password-env": { type: "string" },
  "sasl-password-file": { type: "string" },
  tls: { type: "boolean" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const;

/** The parsed values of {@link KAFKA_SECURITY_OPTIONS}. */
export interface KafkaSecurityValues {
  "sasl-mechanism"?: string | undefined;
  "sasl-username"?: string | undefined;
  "sasl-password-env"?: string | undefined;
  "sasl-password-file"?: string | undefined;
  tls?: boolean | undefined;
  "tls-ca"?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
}

/** What the flags ask for: spread `config` into a KafkaJS config or a `KafkaBroker`'s options. */
export interface KafkaSecurity {
  config: { sasl?: SASLOptions; ssl?: ConnectionOptions | true };
  /** For the start-up line, e.g. `SASL scram-sha-256 as alice, TLS (CA ca.pem)`, or "" for neither; never a secret. */
  summary: string;
  /** Things that work but are unsafe (SASL PLAIN without TLS). */
  warnings: string[];
}

export const DEFAULT_PASSWORD_ENV = "RIVULET_SASL_PASSWORD";
const MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;
type Mechanism = (typeof MECHANISMS)[number];
/** The SASL mechanisms the flags offer (KafkaJS's `SASLOptions` also has aws and oauthbearer). */
type PasswordSasl = { mechanism: Mechanism; username: string; password: string };

const FLAGS: [string, string][] = [
  ["--sasl-mechanism <m>", "authenticate with SASL: plain, scram-sha-256 or scram-sha-512"],
  ["--sasl-username <name>", "the SASL user (required with --sasl-mechanism)"],
  [
    "--sasl-password-env <var>",
    `environment variable holding the SASL password (default ${DEFAULT_PASSWORD_ENV}); a password is never a flag's value`,
  ],
  ["--sasl-password-file <f>", "read the SASL password from this file instead (a final newline is dropped)"],
  ["--tls", "connect over TLS, checking the brokers' certificates against the system's CAs"],
  ["--tls-ca <file>", "PEM file of the CA certificates to trust instead (implies --tls)"],
  ["--tls-cert <file>", "PEM client certificate for mutual TLS (needs --tls-key)"],
  ["--tls-key <file>", "PEM private key of --tls-cert, unencrypted (implies --tls)"],
];

/**
 * The help of the security flags, descriptions starting at `column` and wrapped at `width`.
 *
 * @example
 * const help = `Options:\n  --brokers ...\n${kafkaSecurityUsage(30)}`;
 */
export function kafkaSecurityUsage(column: number, width = 96): string {
  const lines: string[] = [];
  for (const [flag, text] of FLAGS) {
    let line = `  ${flag}`.padEnd(column);
    if (line.length > column) {
      lines.push(line.trimEnd());
      line = " ".repeat(column);
    }
    let used = false;
    for (const word of text.split(" ")) {
      if (used && line.length + 1 + word.length > width) {
        lines.push(line);
        line = " ".repeat(column);
        used = false;
      }
      line += used ? ` ${word}` : word;
      used = true;
    }
    lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Turns the security flags into KafkaJS's `sasl` and `ssl`; throws {@link UsageError} for a
 * mechanism without a user, a missing password, an unreadable or malformed PEM file, ...
 *
 * @example
 * kafkaSecurity({ "sasl-mechanism": "scram-sha-256", "sasl-username": "alice" }, { env: { RIVULET_SASL_PASSWORD: "pw" }, cwd: "." });
 * // { config: { sasl: { mechanism: "scram-sha-256", username: "alice", password: "pw" } }, summary: "SASL scram-sha-256 as alice", warnings: [] }
 */
export function kafkaSecurity(
  v: KafkaSecurityValues,
  where: { env: NodeJS.ProcessEnv; cwd: string },
): KafkaSecurity {
  const config: KafkaSecurity["config"] = {};
  const summary: string[] = [];
  const warnings: string[] = [];
  const sasl = saslConfig(v, where);
  if (sasl) {
    config.sasl = sasl;
    summary.push(`SASL ${sasl.mechanism} as ${sasl.username}`);
  }
  const tls = tlsConfig(v, where.cwd);
  if (tls) {
    config.ssl = tls.ssl;
    summary.push(tls.summary);
  } else if (sasl?.mechanism === "plain")
    warnings.push("--sasl-mechanism plain without --tls sends the password in clear text");
  return { config, summary: summary.join(", "), warnings };
}

function saslConfig(
  v: KafkaSecurityValues,
  where: { env: NodeJS.ProcessEnv; cwd: string },
): PasswordSasl | undefined {
  const raw = v["sasl-mechanism"];
  if (raw === undefined) {
    for (const flag of ["sasl-username", "sasl-password-env", "sasl-password-file"] as const)
      if (v[flag] !== undefined) throw new UsageError(`--${flag} needs --sasl-mechanism`);
    return undefined;
  }
  const mechanism = raw.toLowerCase() as Mechanism;
  if (!MECHANISMS.includes(mechanism))
    throw new UsageError(`--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512, got "${raw}"`);
  const username = v["sasl-username"];
  if (username === undefined || username === "")
    throw new UsageError(`--sasl-mechanism ${mechanism} needs --sasl-username <name>`);
  return { mechanism, username, password: saslPassword(v, where) };
}

function saslPassword(v: KafkaSecurityValues, where: { env: NodeJS.ProcessEnv; cwd: string }): string {
  const file = v["sasl-password-file"];
  const variable = v["sasl-password-env"];
  if (file !== undefined && variable !== undefined)
    throw new UsageError("--sasl-password-env and --sasl-password-file exclude each other");
  if (file !== undefined) {
    const password = readText("--sasl-password-file", file, where.cwd).replace(/\r?\n$/, "");
    if (password === "") throw new UsageError(`--sasl-password-file: ${file} is empty`);
    return password;
  }
  const name = variable ?? DEFAULT_PASSWORD_ENV;
  // Never echoed: a value that is no variable name may well be the password itself.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UsageError(
      "--sasl-password-env takes the name of an environment variable holding the password, not the password",
    );
  const password = where.env[name];
  if (password === undefined || password === "")
    throw new UsageError(
      `no SASL password: the environment variable ${name} is not set or empty${
        variable === undefined ? " (name another with --sasl-password-env, or use --sasl-password-file)" : ""
      }`,
    );
  return password;
}

function tlsConfig(
  v: KafkaSecurityValues,
  cwd: string,
): { ssl: ConnectionOptions | true; summary: string } | undefined {
  const caFile = v["tls-ca"];
  const certFile = v["tls-cert"];
  const keyFile = v["tls-key"];
  if (!v.tls && caFile === undefined && certFile === undefined && keyFile === undefined) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError(
      certFile === undefined ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key (its private key)",
    );
  const ssl: ConnectionOptions = {};
  const parts: string[] = [];
  if (caFile !== undefined) {
    ssl.ca = certificates("--tls-ca", caFile, cwd).pem;
    parts.push(`CA ${caFile}`);
  }
  if (certFile !== undefined && keyFile !== undefined) {
    const cert = certificates("--tls-cert", certFile, cwd);
    const key = privateKey(keyFile, cwd);
    if (!cert.first.checkPrivateKey(key.object))
      throw new UsageError(`--tls-key: ${keyFile} is not the private key of the certificate in ${certFile}`);
    ssl.cert = cert.pem;
    ssl.key = key.pem;
    parts.push(`client certificate ${certFile}`);
  }
  return {
    ssl: parts.length === 0 ? true : ssl,
    summary: parts.length === 0 ? "TLS" : `TLS (${parts.join(", ")})`,
  };
}

function readText(flag: string, file: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, file), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag}: cannot read ${file} (${code ?? (e as Error).message})`);
  }
}

function certificates(flag: string, file: string, cwd: string): { pem: string; first: X509Certificate } {
  const pem = readText(flag, file, cwd);
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`${flag}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  try {
    return { pem, first: new X509Certificate(pem) };
  } catch (e) {
    throw new UsageError(`${flag}: ${file} is not a valid PEM certificate (${(e as Error).message})`);
  }
}

function privateKey(file: string, cwd: string): { pem: string; object: KeyObject } {
  const pem = readText("--tls-key", file, cwd);
  if (/ENCRYPTED/.test(pem))
    throw new UsageError(
      `--tls-key: ${file} is encrypted; give an unencrypted key (e.g. openssl pkey -in ${file} -out <new file>)`,
    );
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new UsageError(`--tls-key: ${file} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  try {
    return { pem, object: createPrivateKey(pem) };
  } catch (e) {
    throw new UsageError(`--tls-key: ${file} is not a valid PEM private key (${(e as Error).message})`);
  }
}
