/**
 * Bearer-token auth (Hono's `bearerAuth`, constant-time comparison) with v2 error bodies, and
 * who a request counts for in the rate limit: its bearer token when the token is valid, else
 * the client's address (so bad tokens cannot open fresh buckets).
 *
 * @example
 * const tokens = checkTokens(["s3cret"]);
 * app.use(bearer(tokens));
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { RivuletError } from "../../../core/index.js";
import { proxyErrors } from "./errors.js";
import { honoParts } from "./hono.js";
import { errorResponse } from "./http.js";

/** Hono's bearerAuth accepts these characters in a token (RFC 6750's b64token). */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** The configured tokens, checked: each must be a token a client can send. */
export function checkTokens(tokens: readonly string[]): string[] {
  for (const t of tokens)
    if (typeof t !== "string" || !TOKEN.test(t))
      throw new RivuletError(
        "INVALID_ARGUMENT",
        "a REST proxy token may only hold letters, digits and . _ ~ + / - (then = padding)",
      );
  return [...tokens];
}

/** Hono's bearerAuth, answering in v2 error bodies. */
export function bearer(tokens: readonly string[]): MiddlewareHandler {
  const fail = (status: number, message: string) => () => {
    const e = status === 400 ? proxyErrors.badRequest(message) : proxyErrors.unauthorized(message);
    return errorResponse(e);
  };
  return honoParts().bearerAuth({
    token: [...tokens],
    noAuthenticationHeader: { message: fail(401, "this proxy wants Authorization: Bearer <token>") },
    invalidAuthenticationHeader: { message: fail(400, "the Authorization header is not Bearer <token>") },
    invalidToken: { message: fail(401, "the bearer token is not valid") },
  });
}

/** The client's address, when the server is @hono/node-server. */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? "unknown";
}

/** Rate-limit key: `token:<n>` for a valid bearer token, else `address:<ip>`. */
export function clientKey(tokens: readonly string[]): (c: Context) => string {
  const known = tokens.map((t) => Buffer.from(t));
  return (c) => {
    const header = c.req.header("authorization");
    const m = header === undefined ? null : /^bearer +(.+)$/i.exec(header);
    if (m) {
      const sent = Buffer.from(m[1]!.trim());
      const i = known.findIndex((t) => t.length === sent.length && timingSafeEqual(t, sent));
      if (i >= 0) return `token:${i}`;
    }
    return `address:${clientAddress(c)}`;
  };
}
