// `rivulet run` as a user runs it: bin/rivulet.mjs in a child process, against the suite's real
// Kafka broker. Children are stopped by the pid this file spawned, never by name.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { main } from "../../adapters/node/cli.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "rivulet.mjs");
const fixture = "test/fixtures/clicks-pipeline.ts";
const TOPICS = ["clicks", "clicks-per-minute", "clicks-late", "cli-dlq"];

interface Cli {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stderr. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

const children = new Set<ChildProcess>();

function cli(args: string[]): Cli {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal, ms: Date.now() - started });
    }),
  );
  const waitFor = (re: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = err.match(re);
        if (!m) return false;
        clearTimeout(timer);
        child.stderr!.off("data", check);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        child.stderr!.off("data", check);
        reject(new Error(`no ${re} in stderr within ${timeoutMs} ms:\n${err}\nstdout:\n${out}`));
      }, timeoutMs);
      if (!check()) child.stderr!.on("data", check);
      void exited.then(() =>
        setTimeout(() => check() || reject(new Error(`exited before ${re}:\n${err}`)), 50),
      );
    });
  return { child, exited, stdout: () => out, stderr: () => err, waitFor };
}

afterEach(async () => {
  for (const child of children) {
    child.kill("SIGKILL"); // by the pid spawned above
    await new Promise((r) => child.once("exit", r));
  }
});

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

describe("rivulet CLI usage", () => {
  it("--help and run --help print the usage and exit 0", async () => {
    const top = cli(["--help"]);
    expect((await top.exited).code).toBe(0);
    expect(top.stdout()).toMatch(/^Usage: rivulet <command>/);
    expect(top.stdout()).toContain("run <pipeline module> [export name]");

    const help = cli(["run", "--help"]);
    expect((await help.exited).code).toBe(0);
    const text = help.stdout();
    for (const flag of [
      "--brokers",
      "--group",
      "--guarantee",
      "--producer",
      "--state-dir",
      "--checkpoint-interval",
      "--dead-letter-topic",
      "--metrics-port",
      "--client-id",
      "--on-error",
      "--drain",
    ])
      expect(text).toContain(flag);
    expect(text).toMatch(/Without it there is no state store/);
    expect(text).toMatch(/exactly-once \(default/);
  });

  it("a missing module, a bad flag, no command: a message and exit code 2", async () => {
    const missing = cli([
      "run",
      "test/fixtures/no-such-pipeline.ts",
      "--brokers",
      "127.0.0.1:1",
      "--group",
      "g",
    ]);
    expect((await missing.exited).code).toBe(2);
    expect(missing.stderr()).toMatch(/pipeline module not found: .*no-such-pipeline\.ts/);
    expect(missing.stderr()).toContain('Run "rivulet run --help" for usage.');

    const flag = cli(["run", fixture, "--brokers", "127.0.0.1:1", "--group", "g", "--frobnicate"]);
    expect((await flag.exited).code).toBe(2);
    expect(flag.stderr()).toMatch(/Unknown option '--frobnicate'/);

    const none = cli([]);
    expect((await none.exited).code).toBe(2);
    expect(none.stderr()).toMatch(/Usage: rivulet/);
  });

  it.each([
    [["run"], /missing the pipeline module/],
    [["deploy"], /unknown command "deploy"/],
    [["run", fixture, "--group", "g"], /--brokers host:port\[,host:port\] is required/],
    [["run", fixture, "--brokers", "localhost"], /"localhost" is not host:port/],
    [["run", fixture, "--brokers", "h:1"], /--group <id> is required/],
    [["run", fixture, "--brokers", "h:1", "--group", "g", "--guarantee", "maybe"], /--guarantee must be/],
    [
      ["run", fixture, "--brokers", "h:1", "--group", "g", "--producer", "rdkafka"],
      /--producer must be kafkajs or platformatic/,
    ],
    [["run", fixture, "--brokers", "h:1", "--group", "g", "--on-error", "ignore"], /--on-error must be/],
    [
      ["run", fixture, "--brokers", "h:1", "--group", "g", "--tasks", "many"],
      /--tasks must be shared or per-partition/,
    ],
    [
      ["run", fixture, "--brokers", "h:1", "--group", "g", "--metrics-port", "99999"],
      /--metrics-port must be/,
    ],
    [
      ["run", fixture, "--brokers", "h:1", "--group", "g", "--checkpoint-interval", "-5"],
      /checkpoint-interval/,
    ],
    [
      ["run", fixture, "--brokers", "h:1", "--group", "g", "--dead-letter-topic", "a/b"],
      /--dead-letter-topic/,
    ],
    [["run", fixture, "x", "y", "--brokers", "h:1", "--group", "g"], /unexpected argument "y"/],
    [
      ["run", fixture, "nope", "--brokers", "h:1", "--group", "g"],
      /no export "nope"; its exports: .*perMinute \(pipeline\)/,
    ],
    [
      ["run", "adapters/node/metrics.ts", "--brokers", "h:1", "--group", "g"],
      /exports no pipeline.*prometheusText \(a function\)/,
    ],
  ])("main(%j) exits 2: %s", async (argv, message) => {
    let err = "";
    const code = await main(argv, {
      stdout: { write: () => true },
      stderr: { write: (t: string) => (err += t) },
      cwd: root,
      onSignal: () => () => {},
    });
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  it("an unreachable broker is a clear error and exit 1 within 15 s", async () => {
    const c = cli(["run", fixture, "perMinute", "--brokers", "127.0.0.1:1", "--group", "g"]);
    const { code, ms } = await c.exited;
    expect(code).toBe(1);
    expect(ms).toBeLessThan(15_000);
    expect(c.stderr()).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
});

describe("rivulet run against Kafka", () => {
  const bootstrap = inject("kafkaBootstrap");
  const kafka = new Kafka({ brokers: [bootstrap], clientId: "rivulet-cli-test", logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "rivulet-cli-"));
    await admin.connect();
    // The fixture's topic names are fixed: start from empty topics.
    const existing = await admin.listTopics();
    const stale = TOPICS.filter((t) => existing.includes(t));
    if (stale.length > 0) {
      await admin.deleteTopics({ topics: stale, timeout: 30_000 });
      for (let i = 0; (await admin.listTopics()).some((t) => stale.includes(t)); i++) {
        if (i > 100) throw new Error(`topics ${stale} were not deleted`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: "clicks", numPartitions: 3 }] });
        break;
      } catch (e) {
        if (attempt > 20) throw e; // still marked for deletion: try again shortly
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });

  afterAll(async () => {
    await admin.disconnect();
    await rm(scratch, { recursive: true, force: true });
  });

  type Click = { userId: string; kind: "click" | "view"; ts: number };
  const click = (partition: number, userId: string, ts: number, kind: Click["kind"] = "click") => ({
    partition,
    key: userId,
    value: JSON.stringify({ userId, kind, ts } satisfies Click),
  });

  async function produce(messages: ReturnType<typeof click>[]): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "clicks", messages });
    await producer.disconnect();
  }

  /** Every committed record of the sink (read_committed), once `expected` are there. */
  async function readCommitted(expected: number, timeoutMs = 60_000): Promise<Record<string, unknown>[]> {
    const consumer = kafka.consumer({
      groupId: `cli-reader-${Date.now()}-${Math.random()}`,
      readUncommitted: false,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: "clicks-per-minute", fromBeginning: true });
    const rows: Record<string, unknown>[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          rows.push(JSON.parse(message.value!.toString()) as Record<string, unknown>);
          if (rows.length === expected) {
            clearTimeout(timer);
            setTimeout(resolve, 1_500); // duplicates, if any, would show up now
          }
        },
      });
    });
    await consumer.disconnect();
    return rows.sort(
      (a, b) => Number(a.start) - Number(b.start) || String(a.key).localeCompare(String(b.key)),
    );
  }

  it("runs the pipeline live, with status and metrics; SIGTERM commits and exits 0; --drain resumes its state", async () => {
    const users = ["ann", "bob", "cyd", "dee", "eve", "fay"]; // user i in partition i % 3
    const stateDir = join(scratch, "state");
    const common = ["--brokers", bootstrap, "--group", "cli-clicks", "--state-dir", stateDir];
    const job = cli([
      "run",
      fixture,
      "perMinute",
      ...common,
      "--checkpoint-interval",
      "300",
      "--metrics-port",
      "0",
      "--dead-letter-topic",
      "cli-dlq",
      "--status-interval",
      "1000",
    ]);
    const [, url] = await job.waitFor(/metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/);
    expect(job.stderr()).toMatch(
      /running test\/fixtures\/clicks-pipeline\.ts perMinute as group "cli-clicks" on .* \(exactly-once; state: .*state; tasks: per-partition\)/,
    );

    await produce([
      // Three clicks per user in the first minute.
      ...users.flatMap((u, i) => [0, 1_000, 2_000].map((ts) => click(i % 3, u, ts))),
      // ann and bob click in minute 5: windows still open when the job is stopped.
      ...[300_000, 301_000].flatMap((ts) => [click(0, "ann", ts), click(1, "bob", ts)]),
      // A view (filtered) far ahead in each partition moves its watermark past the first minute.
      ...[0, 1, 2].map((p) => click(p, "w", 200_000, "view")),
    ]);
    const first = await readCommitted(users.length);
    expect(first).toEqual(users.map((u) => ({ key: u, start: 0, end: 60_000, value: 3 })));

    // The status line: rates, lag, the slowest partition's watermark (200 s - 5 s - 1 ms) as ISO time.
    await job.waitFor(
      /\[running\] in [\d.]+\/s \(25\) \| out [\d.]+\/s \(6\) \| lag 0 \| watermark 1970-01-01T00:03:14\.999Z \| checkpoint \d+\.\d s ago/,
      20_000,
    );
    const metrics = await httpGet(url!);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('rivulet_records_in_total{group="cli-clicks"} 25');
    expect(metrics.body).toContain('rivulet_records_filtered_total{group="cli-clicks"} 3');
    expect(metrics.body).toContain(
      'rivulet_records_produced_total{group="cli-clicks",topic="clicks-per-minute"} 6',
    );
    expect(metrics.body).toContain('rivulet_watermark_ms{group="cli-clicks"} 194999');
    expect(metrics.body).toContain(
      'rivulet_partition_watermark_ms{group="cli-clicks",topic="clicks",partition="0"} 295999',
    );
    expect(metrics.body).toMatch(
      /rivulet_partition_lag\{group="cli-clicks",topic="clicks",partition="2"\} 0/,
    );
    expect(metrics.body).toMatch(/rivulet_checkpoints_total\{group="cli-clicks"\} [1-9]/);

    const signalled = Date.now();
    job.child.kill("SIGTERM");
    const stopped = await job.exited;
    expect(stopped.code, job.stderr()).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(job.stderr()).toMatch(/SIGTERM: stopping/);
    expect(job.stderr()).toMatch(
      /stopped\. 25 in = 0 emitted \+ 3 filtered \+ 22 aggregated \+ 0 late \+ 0 dead-lettered/,
    );
    // Everything read is committed, and the state of the open windows is on disk, one file per section.
    const committed = await admin.fetchOffsets({ groupId: "cli-clicks", topics: ["clicks"] });
    const ends = await admin.fetchTopicOffsets("clicks");
    expect(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual(
      ends.map((p) => [p.partition, p.high]).sort(),
    );
    expect((await readdir(stateDir)).filter((f) => f.endsWith(".snapshot")).sort()).toEqual(
      [0, 1, 2].map((n) =>
        expect.stringMatching(new RegExp(`^cli-clicks%2F${n}~cli-clicks-\\d+\\.snapshot$`)),
      ),
    );

    // More clicks in minute 5, then a bounded run of the same group: it resumes at the committed
    // offsets with the open windows of the first run, fires every window and exits by itself.
    await produce([302_000, 303_000].flatMap((ts) => [click(0, "ann", ts), click(1, "bob", ts)]));
    const drain = cli(["run", fixture, ...common, "--drain"]);
    const drained = await drain.exited;
    expect(drained.code, drain.stderr()).toBe(0);
    expect(drain.stderr()).toMatch(/drained\. 4 in = 0 emitted \+ 0 filtered \+ 4 aggregated/);
    const all = await readCommitted(users.length + 2);
    expect(all).toHaveLength(users.length + 2); // nothing of the first run again
    expect(all.slice(users.length)).toEqual([
      { key: "ann", start: 300_000, end: 360_000, value: 4 },
      { key: "bob", start: 300_000, end: 360_000, value: 4 },
    ]);
  });

  it("a user function that throws fails the job: the error, exit 1", async () => {
    const module = join(scratch, "throws.mts");
    await writeFile(
      module,
      'import { Pipeline } from "rivulet";\nexport const broken = Pipeline.source("clicks").map(() => { throw new Error("boom"); }).to("rivulet-cli-out");\n',
    );
    const c = cli(["run", module, "--brokers", bootstrap, "--group", "cli-throws"]);
    const { code } = await c.exited;
    expect(code, c.stderr()).toBe(1);
    expect(c.stderr()).toMatch(/the job failed: step 2 \(map\) threw: Error: boom/);
  });

  it("a source topic that does not exist: the job's error, exit 1", async () => {
    const module = join(scratch, "missing-topic.mts");
    await writeFile(
      module,
      'import { Pipeline } from "rivulet";\nexport default Pipeline.source("rivulet-cli-no-such-topic").to("rivulet-cli-out");\n',
    );
    const c = cli(["run", module, "--brokers", bootstrap, "--group", "cli-missing"]);
    const { code, ms } = await c.exited;
    expect(code, c.stderr()).toBe(1);
    expect(ms).toBeLessThan(30_000);
    expect(c.stderr()).toMatch(/source topic "rivulet-cli-no-such-topic" does not exist/);
  });
});
