import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  checkMetricLabels,
  type JobMetrics,
  type MetricLabels,
  prometheusText,
  RivuletError,
} from "../../core/index.js";

export { type MetricLabels, prometheusText };

export interface MetricsServerOptions {
  /** 0 picks a free port; the chosen one is in the result. */
  port: number;
  /** Interface to bind (default 127.0.0.1: not reachable from other machines unless asked). */
  host?: string;
  labels?: MetricLabels;
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) over HTTP.
 *
 * @example
 * import { serveMetrics } from "rivulet/node";
 * const server = await serveMetrics(() => job.metrics(), { port: 9464 });
 * // curl http://127.0.0.1:9464/metrics
 * await server.close();
 */
export async function serveMetrics(
  getMetrics: () => JobMetrics,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const labels = options.labels ?? {};
  checkMetricLabels(labels);
  return serveMetricsText(() => prometheusText(getMetrics(), labels), options);
}

/**
 * Serves `GET /metrics` with the text `render` returns (already in the Prometheus format): for
 * metrics that are not one job's, such as the parent of `rivulet run --workers`. A throwing
 * `render` answers 500.
 *
 * @example
 * const server = await serveMetricsText(() => prometheusText(job.metrics()), { port: 0 });
 */
export async function serveMetricsText(
  render: () => string,
  options: Omit<MetricsServerOptions, "labels">,
): Promise<MetricsServer> {
  const { port, host = "127.0.0.1" } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new RivuletError("INVALID_ARGUMENT", `metrics port must be an integer 0-65535, got ${port}`);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") return reply(res, 404, "not found: try /metrics\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return reply(res, 405, "method not allowed\n");
    }
    let body: string;
    try {
      body = render();
    } catch (e) {
      return reply(res, 500, `metrics unavailable: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    res.writeHead(200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) =>
      reject(new RivuletError("INVALID_ARGUMENT", `cannot serve metrics on ${host}:${port}: ${e.message}`)),
    );
    server.listen({ port, host }, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    port: bound,
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive scrapers must not hold the process open
      }),
  };
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
