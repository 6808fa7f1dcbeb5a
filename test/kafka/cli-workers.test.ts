// `rivulet run --workers N` as a user runs it: bin/rivulet.mjs in a child process that forks its
// workers, against the suite's real Kafka broker. Processes are stopped by the pids this file
// spawned or the parent reported, never by name.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { main } from "../../adapters/node/cli.js";
import { count, Pipeline, run, tumbling } from "../../core/index.js";
import { MemoryBroker } from "../../core/testing.js";
import { until } from "./kafka-helpers.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "rivulet.mjs");

interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
}

// The same pipeline as the module the CLI runs (written below with the test's topic names).
const pipelineSource = (
  input: string,
  output: string,
) => `import { count, Pipeline, tumbling } from "rivulet";
export const perTenSeconds = Pipeline.source("${input}", {
  timestamp: (c) => c.ts,
  watermark: { maxOutOfOrderness: 1_000 },
})
  .filter((c) => c.kind === "click")
  .keyBy((c) => c.userId)
  .window(tumbling(10_000))
  .aggregate(count())
  .to("${output}");
`;

function pipeline(input: string, output: string) {
  return Pipeline.source<Click>(input, { timestamp: (c) => c.ts, watermark: { maxOutOfOrderness: 1_000 } })
    .filter((c) => c.kind === "click")
    .keyBy((c) => c.userId)
    .window(tumbling(10_000))
    .aggregate(count())
    .to(output);
}

/** Clicks of 16 users over a minute, user i in partition i % 4, then a view per partition far ahead. */
function clicks(): { partition: number; key: string; value: Click }[] {
  const out: { partition: number; key: string; value: Click }[] = [];
  let seed = 11;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let ts = 0; ts < 60_000; ts += 20)
    for (let u = 0; u < 16; u++)
      if (rnd() < 0.1)
        out.push({ partition: u % 4, key: `u${u}`, value: { userId: `u${u}`, kind: "click", ts } });
  for (let p = 0; p < 4; p++)
    out.push({ partition: p, key: `w${p}`, value: { userId: `w${p}`, kind: "view", ts: 500_000 } });
  return out;
}

const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of children) {
    child.kill("SIGKILL"); // by the pid spawned here; its workers stop when their parent is gone
    await new Promise((r) => child.once("exit", r));
  }
});

/** `rivulet` in a child process; `pids` are the workers' the parent reported at start. */
function rivulet(args: string[]) {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let text = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    err: () => text,
    stderr: () => `stderr after ${Date.now() - started} ms:\n${text}`,
    pids: () =>
      (/\d+ workers in group "[^"]+" \(pids ([\d, ]+)\), tasks per-partition/.exec(text)?.[1] ?? "")
        .split(", ")
        .filter((p) => p !== "")
        .map(Number),
  };
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("rivulet run --workers", () => {
  it.each([
    [["--workers", "2", "--tasks", "shared"], /--workers needs per-partition tasks/],
    [["--workers", "2", "--drain"], /--drain runs in one process/],
    [["--workers", "0"], /--workers must be an integer from 1/],
    [["--workers", "many"], /--workers must be/],
  ])("main(run %j) exits 2: %s", async (flags, message) => {
    let err = "";
    const code = await main(
      ["run", "test/fixtures/clicks-pipeline.ts", "--brokers", "h:1", "--group", "g", ...flags],
      {
        stdout: { write: () => true },
        stderr: { write: (t: string) => (err += t) },
        cwd: root,
        onSignal: () => () => {},
      },
    );
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  const bootstrap = inject("kafkaBootstrap");
  const kafka = new Kafka({
    brokers: [bootstrap],
    clientId: "rivulet-workers-test",
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "rivulet-workers-"));
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
    await rm(scratch, { recursive: true, force: true });
  });

  it("2 workers on 4 partitions: output exact, one status line, /metrics summed, SIGTERM stops them all", async () => {
    const id = randomUUID().slice(0, 8);
    const [input, output, group] = [`workers-in-${id}`, `workers-out-${id}`, `workers-${id}`];
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: 4 }] });
    const module = join(scratch, "workers-pipeline.mts");
    await writeFile(module, pipelineSource(input, output));
    const events = clicks();

    // The reference: the same input in memory, drained (the views far ahead close every window).
    const memory = new MemoryBroker();
    await memory.createTopic(input, { partitions: 4 });
    await memory.produce(
      input,
      events.map((e) => ({ partition: e.partition, key: e.key, value: e.value, timestamp: e.value.ts })),
    );
    const ref = await run(pipeline(input, output), { broker: memory, tasks: "per-partition" });
    await ref.drain();
    const expected = memory
      .recordsSync(output)
      .map((r) => JSON.stringify(r.value))
      .sort();
    expect(expected.length).toBeGreaterThan(16 * 5);

    const { child, exited, err, stderr, pids } = rivulet([
      "run",
      module,
      "--brokers",
      bootstrap,
      "--group",
      group,
      "--state-dir",
      join(scratch, "state"),
      "--workers",
      "2",
      "--metrics-port",
      "0",
      "--status-interval",
      "500",
    ]);
    await until(async () => /metrics at http/.test(err()), "the parent's metrics server", 30_000).catch(
      (e) => {
        throw new Error(`${e}\n${stderr()}`);
      },
    );
    expect(pids(), stderr()).toHaveLength(2);
    const url = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(err())![1]!;

    // Both workers joined and hold partitions before the input comes.
    await until(
      async () => {
        const body = await httpGet(url).catch(() => "");
        return [0, 1].every((w) =>
          body.includes(`rivulet_partition_lag{group="${group}",worker="${w}",topic="${input}"`),
        );
      },
      "both workers holding partitions",
      60_000,
    ).catch(async (e) => {
      throw new Error(`${e}\n${await httpGet(url).catch(() => "")}\n${stderr()}`);
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: events.map((e) => ({ partition: e.partition, key: e.key, value: JSON.stringify(e.value) })),
    });
    await producer.disconnect();

    const rows: string[] = [];
    const reader = kafka.consumer({ groupId: `workers-reader-${id}`, readUncommitted: false });
    await reader.connect();
    await reader.subscribe({ topic: output, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void rows.push(message.value!.toString()) });
    await until(async () => rows.length >= expected.length, "every window written", 60_000).catch((e) => {
      throw new Error(`${e}: ${rows.length} of ${expected.length}\n${stderr()}`);
    });
    await new Promise((r) => setTimeout(r, 1_500)); // duplicates, if any, would show up now
    await reader.disconnect();
    expect(rows.map((r) => JSON.stringify(JSON.parse(r))).sort()).toEqual(expected);

    // /metrics: counters summed over the workers, partition gauges per worker.
    const n = events.length;
    await until(
      async () => (await httpGet(url)).includes(`rivulet_records_in_total{group="${group}"} ${n}`),
      "records_in summed over the workers",
      10_000,
    ).catch(async (e) => {
      throw new Error(`${e}\n${await httpGet(url)}`);
    });
    const body = await httpGet(url);
    expect(body).toContain(
      `rivulet_records_produced_total{group="${group}",topic="${output}"} ${expected.length}`,
    );
    expect(body).toContain(`rivulet_records_filtered_total{group="${group}"} 4`);
    const lagLines = body.match(/^rivulet_partition_lag\{.*$/gm) ?? [];
    expect(new Set(lagLines.map((l) => /partition="(\d)"/.exec(l)?.[1])).size, body).toBe(4);
    expect(body.match(/^# TYPE rivulet_partition_lag gauge$/gm)).toHaveLength(1);

    // One status line, the parent's, covering both workers; none from the workers themselves.
    await until(
      async () =>
        new RegExp(
          `\\[running\\] in [\\d.]+/s \\(${n}\\) \\| out [\\d.]+/s \\(${expected.length}\\) \\| lag 0 .* \\| workers 2/2`,
        ).test(err()),
      "the status line of both",
      10_000,
    ).catch((e) => {
      throw new Error(`${e}\n${stderr()}`);
    });
    expect(err()).not.toMatch(/\[worker \d\] \[(running|starting)/);

    child.kill("SIGTERM");
    expect(await exited, stderr()).toBe(0);
    expect(err()).toMatch(/SIGTERM: stopping 2 workers/);
    expect(err()).toMatch(
      new RegExp(`stopped\\. ${n} in = 0 emitted \\+ 4 filtered \\+ ${n - 4} aggregated`),
    );
    expect((err().match(/\[worker \d\] rivulet: stopped\./g) ?? []).length).toBe(2);
    for (const pid of pids()) expect(alive(pid), `worker pid ${pid} still alive`).toBe(false);
  }, 180_000);

  it("a worker that dies stops the others: the parent says which, exit 1", async () => {
    const id = randomUUID().slice(0, 8);
    const input = `workers-crash-in-${id}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: 4 }] });
    const module = join(scratch, "workers-crash.mts");
    await writeFile(module, pipelineSource(input, `workers-crash-out-${id}`));
    const cli = rivulet([
      "run",
      module,
      "--brokers",
      bootstrap,
      "--group",
      `workers-crash-${id}`,
      "--workers",
      "2",
    ]);
    await until(
      () => (cli.err().match(/\[worker \d\] rivulet: running/g) ?? []).length === 2,
      "both running",
      60_000,
    ).catch((e) => {
      throw new Error(`${e}\n${cli.stderr()}`);
    });
    const [victim, other] = cli.pids();
    process.kill(victim!, "SIGKILL"); // a pid the parent reported
    expect(await cli.exited, cli.stderr()).toBe(1);
    expect(cli.err()).toContain(`worker 0 (pid ${victim}) was killed by SIGKILL: stopping the others`);
    expect(cli.err()).toMatch(/\[worker 1\] rivulet: SIGTERM: stopping/);
    expect(alive(other!), `worker pid ${other} still alive`).toBe(false);
  }, 120_000);
});
