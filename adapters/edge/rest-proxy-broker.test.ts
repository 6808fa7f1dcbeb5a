import { afterEach, describe, expect, it, vi } from "vitest";
import { RestProxyBroker } from "./rest-proxy-broker.js";

/** A stand-in v2 proxy: `topic` has `partitions()` partitions; every request is logged. */
function standIn(partitions: () => number) {
  const calls: string[] = [];
  const fetch = async (input: Request | string, init?: RequestInit): Promise<Response> => {
    const req = typeof input === "string" ? new Request(input, init) : input;
    const path = new URL(req.url).pathname;
    calls.push(`${req.method} ${path}`);
    const json = (v: unknown) => new Response(JSON.stringify(v), { status: 200 });
    if (req.method === "GET" && path === "/topics/topic/partitions")
      return json(Array.from({ length: partitions() }, (_, partition) => ({ partition })));
    if (req.method === "POST" && path === "/consumers/g") return json({ instance_id: "i", base_uri: "x" });
    return new Response(null, { status: 204 });
  };
  return { calls, fetch };
}

const assigned = (calls: string[]) => calls.filter((c) => c.endsWith("/assignments")).length;

describe("RestProxyBroker.consumer", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reuses a partition count read just before (a job's start), and reads it again once it is older", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    let n = 3;
    const proxy = standIn(() => n);
    const broker = new RestProxyBroker({ url: "http://proxy.test", fetch: proxy.fetch });
    expect(await broker.partitions("topic")).toBe(3);
    const first = await broker.consumer({ group: "g", topics: ["topic"] });
    expect(first.assignment()).toHaveLength(3);
    expect(proxy.calls.filter((c) => c.endsWith("/partitions"))).toHaveLength(1);
    await first.close();

    n = 5; // partitions added; the count read 2 s ago no longer stands
    vi.setSystemTime(Date.now() + 2_000);
    const second = await broker.consumer({ group: "g", topics: ["topic"] });
    expect(second.assignment()).toHaveLength(5);
    expect(proxy.calls.filter((c) => c.endsWith("/partitions"))).toHaveLength(2);
    expect(assigned(proxy.calls)).toBe(2);
    await second.close();
  });
});
