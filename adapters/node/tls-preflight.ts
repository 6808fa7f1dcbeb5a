/**
 * One TLS handshake with the brokers before the Kafka clients start, for `rivulet run` and
 * `rivulet proxy`: KafkaJS retries a certificate problem like a network error until its
 * connection timeout (10 s of log lines), and when the broker refuses the client's certificate
 * only "cannot reach Kafka" is left at the end. Here it is one line saying what is wrong.
 *
 * @example
 * const problem = await tlsProblem(["kafka:9093"], { ca });
 * if (problem) console.error(`rivulet: ${problem}`);
 *
 * @module
 */
import { isIP } from "node:net";
import { type ConnectionOptions, connect } from "node:tls";

/** Node's codes for a server certificate the client does not trust. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
/** The broker is not there at all: the Kafka clients' own errors say so. */
const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

type Outcome = { ok: true } | { ok: false; reachable: boolean; problem: string };

/**
 * Tries a TLS handshake with each `host:port` in turn, as KafkaJS would make it, and waits
 * `settleMs` after it for the broker to refuse the client's certificate (TLS 1.3 says so only
 * after the handshake). Resolves `undefined` once one broker accepts, else the first problem.
 */
export async function tlsProblem(
  brokers: readonly string[],
  ssl: ConnectionOptions | true,
  { timeoutMs = 10_000, settleMs = 300 } = {},
): Promise<string | undefined> {
  let first: string | undefined;
  for (const address of brokers) {
    const outcome = await handshake(address, ssl === true ? {} : ssl, timeoutMs, settleMs);
    if (outcome.ok) return undefined;
    if (outcome.reachable) first ??= outcome.problem;
  }
  return first;
}

function handshake(
  address: string,
  options: ConnectionOptions,
  timeoutMs: number,
  settleMs: number,
): Promise<Outcome> {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(at + 1));
  return new Promise((resolve) => {
    let settled = false;
    const socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...options });
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () =>
        done({
          ok: false,
          reachable: false,
          problem: `no TLS handshake with ${address} within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    let secured = false;
    socket.once("secureConnect", () => {
      secured = true;
      setTimeout(() => done({ ok: true }), settleMs);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      const code = e.code ?? "";
      if (UNREACHABLE.has(code)) done({ ok: false, reachable: false, problem: `${address}: ${e.message}` });
      else done({ ok: false, reachable: true, problem: describe(address, e, secured) });
    });
    socket.once("close", () => {
      if (secured) done({ ok: true });
      else
        done({
          ok: false,
          reachable: true,
          problem: `TLS to ${address} failed: the connection closed during the handshake (is it a TLS listener?)`,
        });
    });
  });
}

function describe(address: string, e: NodeJS.ErrnoException, secured: boolean): string {
  const code = e.code ?? "";
  const message = e.message
    .replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:/, "")
    .replace(/:\.\.\/.*$/s, "");
  if (UNTRUSTED.has(code))
    return `TLS to ${address} failed: the broker's certificate is not trusted (${message}); --tls-ca names the CA that signed it`;
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown)/i.test(e.message))
    return `TLS to ${address} failed: the broker refused the client certificate (${message}); it wants one it trusts: --tls-cert and --tls-key`;
  if (!secured && (code === "ECONNRESET" || /before secure TLS connection/.test(e.message)))
    return `TLS to ${address} failed: ${message} (is it a TLS listener?)`;
  return `TLS to ${address} failed: ${message}`;
}
