/**
 * Flink side by side (issue 15): builds the Maven project under bench/flink (Flink 2.3 DataStream
 * jobs over a Java port of Rivulet's Nexmark generator), checks that the port makes the same
 * events as `generateNexmark`, and runs its jobs. bench/run.ts --flink uses it for the Nexmark
 * queries, bench/kafka.ts for q1 through Kafka.
 *
 *   npx tsx bench/flink.ts check     # build, then compare the generators (exit 1 if they differ)
 *   taskset -c 1 npx tsx bench/flink.ts generate --cpu=1 [--events=N]
 *                                    # each generator alone, TypeScript and Java, on one core
 *
 * Maven resolves into ~/.m2 (offline, `-o`, once the first build has downloaded everything);
 * target/ is gitignored. Nothing here throws for a missing Java or Maven: `buildFlink` says why.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateNexmark, generateNexmarkBatch, type NexmarkConfig } from "../core/testing.js";

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), "flink");
export const FLINK_VERSION = "2.3.0";
/** Events whose JSON the generator check compares one by one, and events its checksum covers. */
const CHECK_FIRST = 1000;
const CHECK_N = 1_000_000;

export type FlinkBuild = { classpath: string; mavenMs: number } | { error: string };

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

/**
 * `mvn compile dependency:build-classpath` in bench/flink: offline first (quick, no network), then
 * online if something is not in ~/.m2 yet. The classpath: target/classes and every runtime jar.
 */
export function buildFlink(): FlinkBuild {
  if (!has("java", ["-version"])) return { error: "no java on PATH (Flink needs Java 17)" };
  if (!has("mvn", ["-v"])) return { error: "no mvn on PATH (bench/flink is a Maven project)" };
  const t = performance.now();
  const goals = ["-B", "-q", "compile", "dependency:build-classpath"];
  let r = spawnSync("mvn", ["-o", ...goals], { cwd: PROJECT, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) r = spawnSync("mvn", goals, { cwd: PROJECT, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    const why = `${r.stdout}${r.stderr}`.split("\n").find((l) => l.includes("ERROR")) ?? `exit ${r.status}`;
    return { error: `building bench/flink failed: ${why.trim().slice(0, 300)}` };
  }
  const file = join(PROJECT, "target", "classpath.txt");
  if (!existsSync(file)) return { error: "building bench/flink wrote no target/classpath.txt" };
  const jars = readFileSync(file, "utf8").trim();
  return {
    classpath: [join(PROJECT, "target", "classes"), jars].join(delimiter),
    mavenMs: Math.round(performance.now() - t),
  };
}

/**
 * `java ... rivulet.bench.Main <args>`, pinned to `cpu` with taskset when given; `heap` is
 * [-Xms, -Xmx].
 */
function javaCommand(
  classpath: string,
  args: string[],
  cpu?: string,
  heap: readonly [string, string] = ["1g", "4g"],
): [string, string[]] {
  const java = [`-Xms${heap[0]}`, `-Xmx${heap[1]}`, "-cp", classpath, "rivulet.bench.Main", ...args];
  return cpu !== undefined && process.platform === "linux" && existsSync("/usr/bin/taskset")
    ? ["/usr/bin/taskset", ["-c", cpu, "java", ...java]]
    : ["java", java];
}

function lastJsonLine<T>(stdout: string, what: string): T {
  const line = stdout.trim().split("\n").pop();
  try {
    return JSON.parse(line ?? "") as T;
  } catch {
    throw new Error(`${what}: no JSON result (last line: ${line?.slice(0, 200)})`);
  }
}

/** FNV-1a (32 bit) over UTF-16 code units: what Main.check computes in Java. */
function fnv1a(h: number, s: string): number {
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return h;
}

export interface GeneratorCheck {
  /** The first `first_events` events' JSON equal, one by one. */
  first_events: number;
  first_events_equal: boolean;
  /** FNV-1a over the first `checksum_events` events' JSON, TypeScript and Java. */
  checksum_events: number;
  checksum_ts: number;
  checksum_java: number;
  equal: boolean;
  /** The first differing event, when any. */
  first_difference?: { index: number; ts: string; java: string };
}

/**
 * The Java generator (bench/flink) against `generateNexmark(config)`: the first 1000 events'
 * JSON one by one, and a checksum over the first 1M events' JSON.
 */
export function checkGenerator(classpath: string, config: NexmarkConfig): GeneratorCheck {
  const seed = config.seed ?? 0;
  const [cmd, args] = javaCommand(classpath, [
    "check",
    `--first=${CHECK_FIRST}`,
    `--n=${CHECK_N}`,
    `--seed=${seed}`,
  ]);
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`the Java generator check failed: ${r.stderr.split("\n")[0]}`);
  const lines = r.stdout.trim().split("\n");
  const { checksum } = lastJsonLine<{ checksum: number }>(r.stdout, "generator check");
  let h = 0x811c9dc5;
  let firstEqual = true;
  let difference: GeneratorCheck["first_difference"];
  const CHUNK = 100_000;
  for (let start = 0; start < CHECK_N; start += CHUNK) {
    const events = generateNexmark(config, Math.min(CHUNK, CHECK_N - start), start);
    for (let i = 0; i < events.length; i++) {
      const json = JSON.stringify(events[i]);
      const index = start + i;
      if (index < CHECK_FIRST && json !== lines[index]) {
        firstEqual = false;
        difference ??= { index, ts: json, java: lines[index] ?? "" };
      }
      h = fnv1a(h, json);
      h = Math.imul(h ^ 10, 0x01000193);
    }
  }
  const out: GeneratorCheck = {
    first_events: CHECK_FIRST,
    first_events_equal: firstEqual,
    checksum_events: CHECK_N,
    checksum_ts: h >>> 0,
    checksum_java: checksum,
    equal: firstEqual && h >>> 0 === checksum,
  };
  if (difference) out.first_difference = difference;
  return out;
}

/** One Nexmark query's Flink run (Main.query): warm-up job, then the timed job. */
export interface FlinkQueryRun {
  query: string;
  /** "generator": events made as the source is read; "array": made up front, handed out from an array. */
  source: FlinkSource;
  events: number;
  /** Events per second from the job's 200,001st event to the end of the sink's input. */
  eps: number;
  ms: number;
  /** Events per second from env.execute() to its return (the MiniCluster's start included). */
  whole_eps: number;
  outputs: number;
  warmup_ms: number;
  /** source "array": how long making the events up front took (before any job). */
  preload_ms: number;
  /** Each timed job's events per second (`repeat` of them; `eps` is the best). */
  samples: number[];
}

export type FlinkSource = "generator" | "array";

/**
 * Runs one query on Flink in a fresh JVM pinned to `cpu` (every JVM thread on that core), its
 * events generated as the source reads them or (source "array") made up front; the timed job
 * `repeat` times in that JVM, the best kept. The array of 10M
 * events takes ~2.5 GB, so that JVM gets a fixed 8 GB heap (no resizing, no full GC in the run).
 */
export function flinkQuery(
  classpath: string,
  query: string,
  events: number,
  seed: number,
  cpu?: string,
  source: FlinkSource = "generator",
  repeat = 1,
) {
  const [cmd, args] = javaCommand(
    classpath,
    [
      "query",
      `--query=${query}`,
      `--events=${events}`,
      `--seed=${seed}`,
      `--source=${source}`,
      `--repeat=${repeat}`,
    ],
    cpu,
    source === "array" ? ["8g", "8g"] : undefined,
  );
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0)
    throw new Error(`Flink ${query} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.slice(0, 500)}`);
  return lastJsonLine<FlinkQueryRun>(r.stdout, `Flink ${query}`);
}

export interface FlinkKafkaRun {
  /** From the job's submission (MiniCluster started) to its end. */
  ms: number;
  submit_ms: number;
  /** The JVM's CPU time over the timed job, in cores. */
  client_cpu: number;
  pid: number;
}

/**
 * q1 through Kafka on Flink (KafkaQ1.java) in a child JVM (inheriting this process's CPU
 * affinity): a warm-up job over `warmTopic`, then the timed one over `topic`.
 */
export function flinkKafkaQ1(
  classpath: string,
  o: {
    bootstrap: string;
    topic: string;
    out: string;
    warmTopic: string;
    warmOut: string;
    group: string;
    guarantee: "at-least-once" | "exactly-once";
    checkpointMs: number;
  },
): Promise<FlinkKafkaRun> {
  const [cmd, args] = javaCommand(classpath, [
    "kafka-q1",
    `--bootstrap=${o.bootstrap}`,
    `--topic=${o.topic}`,
    `--out=${o.out}`,
    `--warm-topic=${o.warmTopic}`,
    `--warm-out=${o.warmOut}`,
    `--group=${o.group}`,
    `--guarantee=${o.guarantee}`,
    `--checkpoint-ms=${o.checkpointMs}`,
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0)
        return reject(
          new Error(`Flink kafka q1 failed (${signal ?? `exit ${code}`}): ${stderr.slice(-500)}`),
        );
      try {
        resolve({ ...lastJsonLine<Omit<FlinkKafkaRun, "pid">>(stdout, "Flink kafka q1"), pid: child.pid! });
      } catch (e) {
        reject(e);
      }
    });
  });
}

export interface GeneratorSpeed {
  events: number;
  /** Best round's events per second: generateNexmarkBatch in polls of 1000, as the generator broker calls it. */
  typescript_eps: number;
  typescript_rounds: number[];
  /** The Java port (Main generate): one event at a time, as Flink's DataGeneratorSource calls it. */
  java_eps: number;
  java_rounds: number[];
}

/**
 * Each generator alone, `events` events per round, best of 5 rounds after a warm-up round: the
 * TypeScript one in this process, the Java port in a JVM pinned to `cpu` (run this process
 * pinned to the same core: `taskset -c 0 npx tsx bench/flink.ts generate`).
 */
export function generatorSpeed(classpath: string, events: number, cpu?: string): GeneratorSpeed {
  const rounds: number[] = [];
  let sink = 0;
  for (let r = 0; r <= 5; r++) {
    const t = performance.now();
    for (let i = 0; i < events; i += 1000)
      sink += generateNexmarkBatch({ seed: 42 }, Math.min(1000, events - i), i).timestamps[0]!;
    if (r > 0) rounds.push(Math.round(events / ((performance.now() - t) / 1000)));
  }
  if (Number.isNaN(sink)) throw new Error("unreachable");
  const [cmd, args] = javaCommand(classpath, ["generate", `--n=${events}`, "--seed=42", "--rounds=5"], cpu);
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the Java generator failed: ${r.stderr.split("\n")[0]}`);
  const java = lastJsonLine<{ eps: number; rounds: number[] }>(r.stdout, "Java generate");
  return {
    events,
    typescript_eps: Math.max(...rounds),
    typescript_rounds: rounds,
    java_eps: java.eps,
    java_rounds: java.rounds,
  };
}

// Standalone: npx tsx bench/flink.ts check | generate [--events=N] [--cpu=K]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const b = buildFlink();
  if ("error" in b) {
    console.error(b.error);
    process.exit(1);
  }
  if (process.argv[2] === "generate") {
    const opt = (name: string) =>
      process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    console.log(JSON.stringify(generatorSpeed(b.classpath, Number(opt("events") ?? 5_000_000), opt("cpu"))));
    process.exit(0);
  }
  const c = checkGenerator(b.classpath, { seed: 42 });
  console.log(JSON.stringify(c));
  process.exit(c.equal ? 0 : 1);
}
