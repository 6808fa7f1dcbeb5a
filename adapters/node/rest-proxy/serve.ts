/**
 * `serveRestProxy(options)`: the REST proxy on an HTTP port, with `@hono/node-server`.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import { RivuletError } from "../../../core/index.js";
import { type RestProxy, type RestProxyOptions, restProxy } from "./app.js";
import { isMissing, MISSING_HONO } from "./hono.js";

export interface ServeRestProxyOptions extends RestProxyOptions {
  /** Port to listen on (0: any free port, see `url`). */
  port: number;
  /** Interface to bind (default 127.0.0.1: not reachable from other machines unless asked). */
  host?: string;
}

export interface RestProxyServer {
  /** `http://host:port`, the base URL clients use. */
  readonly url: string;
  readonly port: number;
  readonly proxy: RestProxy;
  /** Stops accepting requests, closes every consumer instance and the Kafka clients. */
  close(): Promise<void>;
}

type ServerLike = {
  close(cb?: (err?: Error) => void): unknown;
  closeAllConnections?: () => void;
  closeIdleConnections?: () => void;
  address(): AddressInfo | string | null;
  once(event: "listening" | "error", cb: (e?: Error) => void): unknown;
};

/**
 * Serves a REST proxy over HTTP once Kafka answers.
 *
 * @example
 * import { serveRestProxy } from "rivulet/node";
 * const server = await serveRestProxy({ brokers: ["127.0.0.1:9092"], port: 8082, token: "s3cret" });
 * console.log(server.url); // http://127.0.0.1:8082
 * await server.close();
 */
export async function serveRestProxy(options: ServeRestProxyOptions): Promise<RestProxyServer> {
  const { port, host = "127.0.0.1", ...rest } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new RivuletError("INVALID_ARGUMENT", `the proxy's port must be an integer 0-65535, got ${port}`);
  let serve: typeof import("@hono/node-server").serve;
  try {
    ({ serve } = await import("@hono/node-server"));
  } catch (e) {
    if (!isMissing(e, "@hono/node-server")) throw e;
    throw new RivuletError("INVALID_ARGUMENT", MISSING_HONO, { cause: e });
  }
  const proxy = restProxy(rest);
  try {
    await proxy.ready();
  } catch (e) {
    await proxy.close();
    throw e;
  }
  const server = serve({ fetch: proxy.fetch, port, hostname: host }) as unknown as ServerLike;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", () => resolve());
      server.once("error", (e) => reject(e));
    });
  } catch (e) {
    await proxy.close();
    throw new RivuletError("INVALID_ARGUMENT", `cannot listen on ${host}:${port}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${bound}`,
    port: bound,
    proxy,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections?.();
        // Waiting fetches end now (their instances close); then the connections go.
        await proxy.close();
        server.closeAllConnections?.();
        await stopped;
      })()),
  };
}
