import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";

/**
 * How clients prove who they are: a bearer token (Hono's `bearerAuth`, compared in constant
 * time), an HMAC-SHA256 signature of the request (webhooks: `X-Rivulet-Timestamp` and
 * `X-Rivulet-Signature: sha256=<hex of HMAC(secret, "<timestamp>.<body>")>`, verified in constant
 * time by Web Crypto, at most `maxSkewMs` old), or `"none"`, said explicitly (a local trial).
 */
export type EdgeAuth =
  | { token: string | readonly string[] }
  | { hmacSecret: string; maxSkewMs?: number }
  | "none";

/** The error body every refusal has. */
export const errorBody = (code: string, message: string) => ({ error: { code, message } });

export function authMiddleware(auth: EdgeAuth): MiddlewareHandler {
  if (auth === "none") return async (_c, next) => next();
  if ("token" in auth) {
    const tokens = typeof auth.token === "string" ? [auth.token] : [...auth.token];
    if (tokens.length === 0 || tokens.some((t) => typeof t !== "string" || t.length < 16))
      throw new TypeError("edge auth tokens must be strings of at least 16 characters");
    return bearerAuth({
      token: tokens,
      noAuthenticationHeader: {
        message: errorBody("UNAUTHORIZED", "an Authorization: Bearer <token> header is required"),
      },
      invalidAuthenticationHeader: {
        message: errorBody("UNAUTHORIZED", "the Authorization header must be Bearer <token>"),
      },
      invalidToken: { message: errorBody("UNAUTHORIZED", "the token is not valid") },
    });
  }
  const secret = auth.hmacSecret;
  if (typeof secret !== "string" || secret.length < 16)
    throw new TypeError("an edge HMAC secret must be a string of at least 16 characters");
  const maxSkew = auth.maxSkewMs ?? 300_000;
  let key: ReturnType<typeof crypto.subtle.importKey> | undefined;
  return async (c, next) => {
    const stamp = c.req.header("x-rivulet-timestamp");
    const signature = c.req.header("x-rivulet-signature");
    const refuse = (message: string) => c.json(errorBody("UNAUTHORIZED", message), 401);
    if (!stamp || !signature)
      return refuse("X-Rivulet-Timestamp and X-Rivulet-Signature headers are required");
    const ts = Number(stamp);
    if (!Number.isFinite(ts) || Math.abs(Date.now() - ts) > maxSkew)
      return refuse("the request's timestamp is too far from now (a replay, or a clock off)");
    const hex = /^sha256=([0-9a-f]{64})$/i.exec(signature)?.[1];
    if (!hex) return refuse("X-Rivulet-Signature must be sha256=<64 hex digits>");
    key ??= crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const body = new Uint8Array(await c.req.arrayBuffer());
    const signed = new Uint8Array([...new TextEncoder().encode(`${stamp}.`), ...body]);
    const mac = new Uint8Array(hex.length / 2);
    for (let i = 0; i < mac.length; i++) mac[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    if (!(await crypto.subtle.verify("HMAC", await key, mac, signed)))
      return refuse("the signature does not match");
    await next();
  };
}

/**
 * The headers a client signs a request with (tests, and clients in JavaScript).
 *
 * @example
 * await fetch(url, { method: "POST", body, headers: { ...(await signRequest(secret, body)), "content-type": "application/json" } });
 */
export async function signRequest(
  secret: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${now}.${body}`)),
  );
  return {
    "x-rivulet-timestamp": String(now),
    "x-rivulet-signature": `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
  };
}
