// An HTTP hop of the tests' own, between a REST proxy client and the proxy, that misbehaves on a
// share of the calls the way networks and overloaded proxies do: it answers 429 or 503 itself,
// holds a request until the client gives up, or forwards it and then drops the connection
// before the answer reaches the client (the proxy acted; the client cannot know). Seeded, so a
// failing run can be replayed. Binds to 127.0.0.1 only.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault = "429" | "503" | "timeout" | "drop";

export interface FaultPlan {
  /** Share of calls that misbehave (0-1). */
  rate: number;
  /** Which faults, drawn evenly. */
  faults: readonly Fault[];
  seed?: number;
  /** How long a "timeout" holds the request before dropping it (ms; longer than the client waits). */
  holdMs?: number;
  /** Calls whose path matches are never faulted (e.g. consumer creation, to keep a test short). */
  spare?: RegExp;
}

export interface FaultHop {
  readonly url: string;
  /** Faults injected so far, by kind, and calls forwarded. */
  readonly stats: Record<Fault | "forwarded", number>;
  /** Stop or resume injecting (calls go straight through meanwhile). */
  enabled: boolean;
  close(): Promise<void>;
}

/** mulberry32 */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultHop(target: string, plan: FaultPlan): Promise<FaultHop> {
  const upstream = new URL(target);
  const rnd = random(plan.seed ?? 1);
  const stats: Record<Fault | "forwarded", number> = {
    "429": 0,
    "503": 0,
    timeout: 0,
    drop: 0,
    forwarded: 0,
  };
  const held = new Set<ServerResponse>();
  const hop = { enabled: true };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const spared = plan.spare?.test(req.url ?? "") ?? false;
      const fault =
        hop.enabled && !spared && rnd() < plan.rate
          ? plan.faults[Math.floor(rnd() * plan.faults.length)]
          : undefined;
      if (fault === "429" || fault === "503") {
        stats[fault]++;
        const status = Number(fault);
        res.writeHead(status, {
          "content-type": "application/vnd.kafka.v2+json",
          ...(status === 429 ? { "retry-after": "0" } : {}),
        });
        res.end(JSON.stringify({ error_code: status === 429 ? 429 : 50003, message: `injected ${status}` }));
        return;
      }
      if (fault === "timeout") {
        stats.timeout++;
        held.add(res);
        setTimeout(() => {
          held.delete(res);
          res.socket?.destroy();
        }, plan.holdMs ?? 3_000).unref();
        return;
      }
      stats.forwarded++;
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const back: Buffer[] = [];
          answer.on("data", (c: Buffer) => back.push(c));
          answer.on("end", () => {
            if (fault === "drop") {
              // The proxy has done it; the client never hears.
              stats.drop++;
              res.socket?.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(back));
          });
        },
      );
      out.on("error", () => res.socket?.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    get enabled() {
      return hop.enabled;
    },
    set enabled(v: boolean) {
      hop.enabled = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of held) r.socket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
