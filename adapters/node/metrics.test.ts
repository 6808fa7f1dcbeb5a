import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { count, type JobMetrics, MemoryStateStore, Pipeline, run, tumbling } from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { prometheusText, serveMetrics } from "./metrics.js";

const base: JobMetrics = {
  status: "running",
  guarantee: "exactly-once",
  protocol: "named",
  records: { in: 10, emitted: 3, filtered: 2, aggregated: 4, late: 1, deadLettered: 0 },
  windowsFired: 3,
  produced: { "clicks-per-minute": 3, 'we"ird\\topic\n': 1 },
  watermark: 1_700_000_000_000,
  operators: [],
  partitions: [
    {
      topic: "clicks",
      partition: 0,
      offset: 6,
      highWatermark: 8,
      lag: 2,
      watermarks: [
        { source: "a", watermark: 5_000, idle: false },
        { source: "b", watermark: 4_000, idle: true },
      ],
    },
    {
      topic: "clicks",
      partition: 1,
      offset: undefined,
      highWatermark: 0,
      lag: 0,
      watermarks: [{ source: "a", watermark: Number.NEGATIVE_INFINITY, idle: true }],
    },
  ],
  checkpoints: { count: 2, lastId: "g-2", lastAt: 1_700_000_000_500, lastDurationMs: 12 },
};

/** name{labels} -> value, from the text format. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

describe("prometheusText", () => {
  it("renders every counter and gauge with HELP and TYPE lines", () => {
    const text = prometheusText(base);
    expect(text.endsWith("\n")).toBe(true);
    const s = samples(text);
    expect(s.get("rivulet_records_in_total")).toBe("10");
    expect(s.get("rivulet_records_emitted_total")).toBe("3");
    expect(s.get("rivulet_records_filtered_total")).toBe("2");
    expect(s.get("rivulet_records_aggregated_total")).toBe("4");
    expect(s.get("rivulet_records_late_total")).toBe("1");
    expect(s.get("rivulet_records_dead_lettered_total")).toBe("0");
    expect(s.get("rivulet_windows_fired_total")).toBe("3");
    expect(s.get('rivulet_records_produced_total{topic="clicks-per-minute"}')).toBe("3");
    expect(s.get("rivulet_watermark_ms")).toBe("1700000000000");
    expect(s.get('rivulet_partition_lag{topic="clicks",partition="0"}')).toBe("2");
    expect(s.get('rivulet_partition_lag{topic="clicks",partition="1"}')).toBe("0");
    expect(s.get('rivulet_partition_offset{topic="clicks",partition="0"}')).toBe("6");
    expect(s.has('rivulet_partition_offset{topic="clicks",partition="1"}')).toBe(false);
    expect(s.get('rivulet_partition_watermark_ms{topic="clicks",partition="0"}')).toBe("4000");
    expect(s.get('rivulet_partition_watermark_ms{topic="clicks",partition="1"}')).toBe("-Inf");
    expect(s.get('rivulet_partition_idle{topic="clicks",partition="0"}')).toBe("0");
    expect(s.get('rivulet_partition_idle{topic="clicks",partition="1"}')).toBe("1");
    expect(s.get("rivulet_checkpoints_total")).toBe("2");
    expect(s.get("rivulet_last_checkpoint_duration_ms")).toBe("12");
    expect(s.get('rivulet_job_status{status="running"}')).toBe("1");
    expect(s.get('rivulet_job_status{status="failed"}')).toBe("0");

    expect(text).toContain("# TYPE rivulet_records_in_total counter\n");
    expect(text).toContain("# TYPE rivulet_checkpoints_total counter\n");
    expect(text).toContain("# TYPE rivulet_watermark_ms gauge\n");
    expect(text).toContain("# TYPE rivulet_partition_lag gauge\n");
    expect(text).toContain("# HELP rivulet_records_late_total ");
    // Every sample belongs to the family declared right above it.
    let family = "";
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("# TYPE ")) family = line.split(" ")[2]!;
      else if (!line.startsWith("#")) expect(line.startsWith(family)).toBe(true);
    }
    // Each family is declared once.
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(new Set(types).size).toBe(types.length);
  });

  it("escapes label values and prints non-finite values as the format wants", () => {
    const text = prometheusText(
      { ...base, watermark: Number.POSITIVE_INFINITY },
      { job: 'a "quoted"\\path\nnext' },
    );
    expect(text).toContain(
      'rivulet_records_produced_total{job="a \\"quoted\\"\\\\path\\nnext",topic="we\\"ird\\\\topic\\n"} 1',
    );
    expect(text).toContain('rivulet_watermark_ms{job="a \\"quoted\\"\\\\path\\nnext"} +Inf');
    expect(prometheusText({ ...base, watermark: Number.NEGATIVE_INFINITY })).toContain(
      "\nrivulet_watermark_ms -Inf\n",
    );
    // No line breaks leak out of a sample.
    for (const line of text.split("\n")) if (line !== "") expect(line).toMatch(/^(# (HELP|TYPE) )?rivulet_/);
  });

  it("omits samples it has no value for and rejects invalid label names", () => {
    const fresh = prometheusText({
      ...base,
      produced: {},
      partitions: [],
      checkpoints: { count: 0, lastId: undefined, lastAt: undefined, lastDurationMs: undefined },
    });
    expect(fresh).toContain("# TYPE rivulet_last_checkpoint_duration_ms gauge\n");
    expect(samples(fresh).has("rivulet_last_checkpoint_duration_ms")).toBe(false);
    expect(samples(fresh).get("rivulet_checkpoints_total")).toBe("0");
    expect(() => prometheusText(base, { "bad-name": "x" })).toThrow(/not a valid Prometheus label name/);
    expect(() => prometheusText(base, { __reserved: "x" })).toThrow(/label name/);
  });

  it("renders a real job's metrics", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("clicks", { partitions: 1 });
    await broker.produce(
      "clicks",
      [1_000, 2_000, 70_000].map((ts) => ({ key: "u1", value: { userId: "u1", ts } })),
    );
    const job = await run(
      Pipeline.source<{ userId: string; ts: number }>("clicks", { timestamp: (c) => c.ts })
        .keyBy((c) => c.userId)
        .window(tumbling(60_000))
        .aggregate(count())
        .to("counts"),
      { broker, manual: true, state: new MemoryStateStore() },
    );
    await job.flush();
    const s = samples(prometheusText(job.metrics(), { job: "counts" }));
    expect(s.get('rivulet_records_in_total{job="counts"}')).toBe("3");
    expect(s.get('rivulet_records_produced_total{job="counts",topic="counts"}')).toBe("1");
    expect(s.get('rivulet_windows_fired_total{job="counts"}')).toBe("1");
    expect(Number(s.get('rivulet_checkpoints_total{job="counts"}'))).toBeGreaterThan(0);
    await job.stop();
  });
});

function get(url: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("serveMetrics", () => {
  it("serves /metrics over HTTP on a free port of 127.0.0.1", async () => {
    let reads = 0;
    const server = await serveMetrics(
      () => {
        reads++;
        return base;
      },
      { port: 0, labels: { job: "t" } },
    );
    try {
      expect(server.port).toBeGreaterThan(0);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const res = await get(server.url);
      expect(res.status).toBe(200);
      expect(res.type).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(res.body).toBe(prometheusText(base, { job: "t" }));
      expect(reads).toBe(1); // read on every scrape, never cached
      expect((await get(`http://127.0.0.1:${server.port}/metrics?x=1`)).status).toBe(200);
      expect((await get(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
      expect((await get(server.url, "POST")).status).toBe(405);
      expect((await get(server.url, "HEAD")).body).toBe("");
    } finally {
      await server.close();
    }
    await expect(get(server.url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("reports a failing metrics source as 500 and a port in use as a clear error", async () => {
    const server = await serveMetrics(
      () => {
        throw new Error("boom");
      },
      { port: 0 },
    );
    try {
      const res = await get(server.url);
      expect(res.status).toBe(500);
      expect(res.body).toContain("boom");
      await expect(serveMetrics(() => base, { port: server.port })).rejects.toThrow(
        /cannot serve metrics on 127.0.0.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await server.close();
    }
    await expect(serveMetrics(() => base, { port: 70_000 })).rejects.toThrow(/0-65535/);
  });
});
