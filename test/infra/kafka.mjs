#!/usr/bin/env node
// Real Apache Kafka for Rivulet's tests: a single-node KRaft broker (broker + controller in one
// JVM), its classpath fetched from Maven Central with `mvn` and cached outside the repo.
// Plain Node ESM, no build step. No Docker, no download sites.
//
//   import { ensureKafkaLibs, startKafka } from "./test/infra/kafka.mjs";
//   const kafka = await startKafka();      // { bootstrap: "127.0.0.1:9092", pid, logDir, stop() }
//   ...
//   await kafka.stop();
//
// CLI:
//   node test/infra/kafka.mjs fetch    warm the cache only (prints the cache dir)
//   node test/infra/kafka.mjs up       start a broker that outlives the command; last line = bootstrap
//   node test/infra/kafka.mjs down     stop the broker `up` started and remove its files
//   node test/infra/kafka.mjs status   print the bootstrap of the running `up` broker, exit 1 if none
//
// Environment:
//   RIVULET_CACHE               cache root (default ~/.cache/rivulet)
//   RIVULET_KAFKA_VERSION       org.apache.kafka:kafka_2.13 version (default below)
//   RIVULET_KAFKA_LOG_LEVEL     broker root log level (default WARN)
//   RIVULET_KAFKA_KEEP=1        keep the broker's temp dir after stop()/failure (debugging)
//   JAVA_HOME                   java to run (default `java` on PATH; Kafka 4.x needs 17+)

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_KAFKA_VERSION = "4.1.2";
const LOG4J_VERSION = "2.24.3";
// Pinned: nearest-wins would otherwise pick scala-logging's slf4j-api 1.7.x, which cannot see the
// slf4j2 provider of log4j-slf4j2-impl and silently drops every broker log line.
const SLF4J_VERSION = "2.0.17";
const DEPENDENCY_PLUGIN_VERSION = "3.8.1";
const HOST = "127.0.0.1";

/** Cache root: $RIVULET_CACHE or ~/.cache/rivulet (never inside the repo). */
export function cacheRoot() {
  return path.resolve(process.env.RIVULET_CACHE || path.join(os.homedir(), ".cache", "rivulet"));
}

/** Kafka version in use: $RIVULET_KAFKA_VERSION or DEFAULT_KAFKA_VERSION. */
export function kafkaVersion() {
  return process.env.RIVULET_KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
}

function kafkaCacheDir(version = kafkaVersion()) {
  return path.join(cacheRoot(), `kafka_2.13-${version}`);
}

/** File the CLI `up` records its broker in. */
export function stateFile() {
  return path.join(cacheRoot(), "kafka-broker.json");
}

function javaBin() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin", "java") : "java";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withDeadline(promise, deadline, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out`)), Math.max(0, deadline - Date.now()));
    }),
  ]).finally(() => clearTimeout(timer));
}

function pomXml(version) {
  const dep = (g, a, v) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Throwaway pom written by rivulet test/infra/kafka.mjs: only used to fetch the broker classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.rivulet.infra</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
${dep("org.apache.kafka", "kafka_2.13", version)}
${dep("org.slf4j", "slf4j-api", SLF4J_VERSION)}
${dep("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION)}
${dep("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION)}
${dep("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION)}
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

/** Run a command, capture its output; reject with the output tail on a non-zero exit. */
function run(cmd, args, { cwd, timeoutMs = 0, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (d) => {
      out += d;
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    let timer;
    if (timeoutMs) {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {}
      }, timeoutMs);
    }
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail(out, 40)}`));
    });
  });
}

function tail(text, lines) {
  return text.split("\n").slice(-lines).join("\n");
}

const pomHash = (version) => createHash("sha256").update(pomXml(version)).digest("hex").slice(0, 16);

/** Cache is complete when its marker names the pom we would write now (a changed pom refetches). */
function libsComplete(dir, version) {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, ".complete"), "utf8"));
    return marker.pom === pomHash(version) && fs.existsSync(path.join(dir, "libs"));
  } catch {
    return false;
  }
}

/**
 * Make sure the broker classpath is cached. Returns the cache dir, which holds `pom.xml`,
 * `libs/` (every runtime jar: use `-cp '<dir>/libs/*'`) and the `.complete` marker.
 * A warm cache costs no mvn call. Concurrent callers (processes) serialise on a lock dir.
 * @param {{ version?: string, quiet?: boolean }} [opts]
 * @returns {Promise<string>}
 */
export async function ensureKafkaLibs(opts = {}) {
  const version = opts.version ?? kafkaVersion();
  const dir = kafkaCacheDir(version);
  if (libsComplete(dir, version)) return dir;

  await fsp.mkdir(dir, { recursive: true });
  const lock = path.join(dir, ".lock");
  const lockDeadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      if (libsComplete(dir, version)) return dir;
      // Stale lock: its owner died.
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lock, "pid"), "utf8"));
      } catch {}
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > lockDeadline) throw new Error(`timed out waiting for lock ${lock}`);
      await sleep(1000);
    }
  }
  try {
    if (libsComplete(dir, version)) return dir;
    const libs = path.join(dir, "libs");
    await fsp.rm(libs, { recursive: true, force: true });
    await fsp.writeFile(path.join(dir, "pom.xml"), pomXml(version));
    if (!opts.quiet) {
      process.stderr.write(
        `[kafka] fetching org.apache.kafka:kafka_2.13:${version} classpath with mvn into ${libs} ...\n`,
      );
    }
    const t0 = Date.now();
    await run(
      "mvn",
      [
        "-B",
        "-q",
        "-f",
        path.join(dir, "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        `-DoutputDirectory=${libs}`,
      ],
      { cwd: dir, timeoutMs: 20 * 60_000 },
    );
    const jars = (await fsp.readdir(libs)).filter((f) => f.endsWith(".jar"));
    if (!jars.some((f) => f.startsWith(`kafka_2.13-${version}`))) {
      throw new Error(`mvn finished but ${libs} has no kafka_2.13-${version}.jar`);
    }
    await fsp.writeFile(
      path.join(dir, ".complete"),
      `${JSON.stringify({ version, pom: pomHash(version), jars: jars.length, at: new Date().toISOString() })}\n`,
    );
    if (!opts.quiet) {
      process.stderr.write(
        `[kafka] ${jars.length} jars cached in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    }
    return dir;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Ports and processes

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function randomFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function pickPorts(opts) {
  if (opts.port && opts.controllerPort) return [opts.port, opts.controllerPort];
  const want = [opts.port ?? 9092, opts.controllerPort ?? 9093];
  const out = [];
  for (const p of want) {
    if (!out.includes(p) && (await portFree(p))) out.push(p);
    else {
      let q;
      do q = await randomFreePort();
      while (out.includes(q));
      out.push(q);
    }
  }
  return out;
}

/** True when something accepts a TCP connection on 127.0.0.1:port. */
export function portAnswers(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: HOST });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === "EPERM";
  }
  // A zombie (exited, not yet reaped) still answers signal 0.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true;
  }
}

/** Guard against pid reuse: is `pid` our broker (kafka.Kafka with our server.properties)? */
function isOurBroker(pid, dir) {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmd.includes("kafka.Kafka") && cmd.some((a) => a.startsWith(dir));
  } catch {
    return !fs.existsSync("/proc/self/cmdline"); // no procfs: cannot check, trust the pid
  }
}

async function killPid(pid, { graceMs = 20_000, exited } = {}) {
  const isDone = exited ?? (() => !pidAlive(pid));
  if (isDone()) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (!isDone() && Date.now() < deadline) await sleep(100);
  if (isDone()) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  const killDeadline = Date.now() + 10_000;
  while (!isDone() && Date.now() < killDeadline) await sleep(50);
}

/**
 * A tiny `sh` in its own session that SIGTERMs (then SIGKILLs) the broker pid and removes its dir
 * once `parentPid` is gone, e.g. when a test runner is killed before its teardown runs. It exits
 * by itself when the broker does. Returns its pid (stop() kills it first).
 */
function startWatchdog(parentPid, brokerPid, dir, keep) {
  const script = `P=$1; J=$2; D=$3; KEEP=$4
while kill -0 "$P" 2>/dev/null && kill -0 "$J" 2>/dev/null; do sleep 1; done
if kill -0 "$J" 2>/dev/null; then
  kill -TERM "$J" 2>/dev/null; i=0
  while kill -0 "$J" 2>/dev/null && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done
  kill -KILL "$J" 2>/dev/null
  [ "$KEEP" = 1 ] || rm -rf "$D"
fi`;
  try {
    const w = spawn(
      "sh",
      ["-c", script, "rivulet-kafka-watchdog", String(parentPid), String(brokerPid), dir, keep ? "1" : "0"],
      {
        detached: true,
        stdio: "ignore",
      },
    );
    w.on("error", () => {});
    w.unref();
    return w.pid;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Broker files

function serverProperties({ port, controllerPort, dir }) {
  const props = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.voters": `1@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://${HOST}:${port}`,
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "log.dirs": path.join(dir, "data"),
    "metadata.log.dir": path.join(dir, "metadata"),
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    // Internal topics: one replica, and few partitions so the first group/txn lookup is quick.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    // Small machine (2 cores): few threads, small cleaner buffer.
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
    "log.cleaner.dedupe.buffer.size": String(8 * 1024 * 1024),
    "log.cleaner.backoff.ms": "1000",
    "log.segment.bytes": String(64 * 1024 * 1024),
    "log.retention.check.interval.ms": "60000",
    // Tests replay historical event times: keep records by size only, never by their age, and
    // accept record timestamps from any time (window results carry event time, not wall time).
    "log.retention.ms": "-1",
    "log.message.timestamp.before.max.ms": String(Number.MAX_SAFE_INTEGER),
    "log.message.timestamp.after.max.ms": String(Number.MAX_SAFE_INTEGER),
    "auto.leader.rebalance.enable": "false",
    // auto.create.topics.enable stays at its default (true).
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replaceAll("\\", "\\\\")}`)
    .join("\n")}\n`;
}

function log4j2Properties(level) {
  return `# Quiet broker logging for tests (rivulet test/infra/kafka.mjs)
status = error
name = rivulet-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${level}
rootLogger.appenderRef.out.ref = STDOUT
# One line that says the broker is up.
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
`;
}

async function readLogTail(file, lines = 60) {
  try {
    return tail(await fsp.readFile(file, "utf8"), lines);
  } catch {
    return "(no log)";
  }
}

async function kafkaAdminReady(bootstrap, timeoutMs) {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({
    clientId: "rivulet-infra-probe",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: Math.max(3000, Math.min(timeoutMs, 10_000)),
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.listTopics();
    return cluster;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Make the broker create its internal topics now (__consumer_offsets via FindCoordinator for a
 * group, __transaction_state via InitProducerId for a transactional id), so a suite's first group
 * join or transaction does not pay for it (and KafkaJS does not log "coordinator not available").
 */
async function warmCoordinators(bootstrap) {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({
    clientId: "rivulet-infra-warmup",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeGroups(["rivulet-infra-warmup"]);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const producer = kafka.producer({
    transactionalId: "rivulet-infra-warmup",
    idempotent: true,
    maxInFlightRequests: 1,
  });
  try {
    await producer.connect(); // KafkaJS: a plain (non-transactional) InitProducerId here
    // transaction() is what runs FindCoordinator(TRANSACTION) + InitProducerId(transactionalId).
    const tx = await producer.transaction();
    await tx.abort();
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

/**
 * Start a single-node KRaft broker on 127.0.0.1 in a fresh temp dir.
 * @param {{
 *   port?: number, controllerPort?: number,   // preferred ports (default 9092/9093, else random free ones)
 *   heap?: string,                             // -Xmx (default "768m")
 *   timeoutMs?: number,                        // readiness timeout (default 90 000)
 *   detached?: boolean,                        // own process group, unref'd, outlives this process (CLI `up`)
 *   logLevel?: string,                         // broker root log level (default $RIVULET_KAFKA_LOG_LEVEL or WARN)
 *   jvmArgs?: string[],                        // extra JVM flags
 *   version?: string,                          // kafka_2.13 version (default $RIVULET_KAFKA_VERSION or DEFAULT_KAFKA_VERSION)
 *   keep?: boolean,                            // keep the temp dir after stop() (default $RIVULET_KAFKA_KEEP)
 *   warmup?: boolean,                          // create the group/transaction coordinators' topics before returning (default true)
 *   parentDir?: string,                        // where its fresh directory is made (default the OS temp dir)
 * }} [opts]
 * @returns {Promise<{ bootstrap: string, port: number, controllerPort: number, pid: number,
 *   logDir: string, logFile: string, version: string, stop(): Promise<void> }>}
 */
export async function startKafka(opts = {}) {
  // Ports are probed before the JVM binds them (seconds later): if another process took one in
  // between, start again on random free ports, unless the caller asked for exact ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafkaOnce(opts);
    } catch (e) {
      if (e?.code !== "EADDRINUSE" || attempt >= 3 || (opts.port && opts.controllerPort)) throw e;
      const port = await randomFreePort();
      let controllerPort;
      do controllerPort = await randomFreePort();
      while (controllerPort === port);
      opts = { ...opts, port, controllerPort };
    }
  }
}

async function startKafkaOnce(opts) {
  const version = opts.version ?? kafkaVersion();
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const keep = opts.keep ?? process.env.RIVULET_KAFKA_KEEP === "1";
  const level = opts.logLevel ?? process.env.RIVULET_KAFKA_LOG_LEVEL ?? "WARN";
  const cache = await ensureKafkaLibs({ version });
  const cp = `${path.join(cache, "libs")}${path.sep}*`;

  const parent = opts.parentDir ?? os.tmpdir();
  await fsp.mkdir(parent, { recursive: true });
  const dir = await fsp.mkdtemp(path.join(parent, "rivulet-kafka-"));
  const logFile = path.join(dir, "kafka.log");
  const propsFile = path.join(dir, "server.properties");
  const log4jFile = path.join(dir, "log4j2.properties");
  const cleanupDir = () => {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  };

  let child;
  let exitHook;
  let watchdog;
  const stopWatchdog = () => {
    if (watchdog) {
      try {
        process.kill(watchdog, "SIGTERM");
      } catch {}
      watchdog = undefined;
    }
  };
  try {
    const [port, controllerPort] = await pickPorts(opts);
    const bootstrap = `${HOST}:${port}`;
    await fsp.writeFile(propsFile, serverProperties({ port, controllerPort, dir }));
    await fsp.writeFile(log4jFile, log4j2Properties(level));

    const javaCommon = ["-Djava.awt.headless=true", `-Dlog4j2.configurationFile=${log4jFile}`];
    const toolJvm = [...javaCommon, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];
    const uuid = (await run(javaBin(), [...toolJvm, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"]))
      .trim()
      .split("\n")
      .pop()
      .trim();
    if (!/^[A-Za-z0-9_-]{22}$/.test(uuid))
      throw new Error(`StorageTool random-uuid printed ${JSON.stringify(uuid)}`);
    await run(javaBin(), [
      ...toolJvm,
      "-cp",
      cp,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      uuid,
      "-c",
      propsFile,
      "--ignore-formatted",
    ]);

    const logFd = fs.openSync(logFile, "a");
    const args = [
      "-Xms256m",
      `-Xmx${opts.heap ?? "768m"}`,
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExitOnOutOfMemoryError",
      "-Djava.net.preferIPv4Stack=true",
      ...javaCommon,
      ...(opts.jvmArgs ?? []),
      "-cp",
      cp,
      "kafka.Kafka",
      propsFile,
    ];
    child = spawn(javaBin(), args, {
      cwd: dir,
      detached: !!opts.detached,
      stdio: ["ignore", logFd, logFd],
    });
    fs.closeSync(logFd);
    const pid = child.pid;
    let exited = null;
    const exitPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        exited = { code, signal };
        resolve(exited);
      });
      child.once("error", (e) => {
        exited = { code: null, signal: null, error: e };
        resolve(exited);
      });
    });
    if (opts.detached) child.unref();
    else {
      // If this process dies without stop(), do not leave the broker behind: on a normal exit
      // kill it synchronously; on a crash or signal the watchdog (its own session) does it.
      exitHook = () => {
        if (!exited) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
        if (watchdog) {
          try {
            process.kill(watchdog, "SIGTERM");
          } catch {}
        }
        cleanupDir();
      };
      process.once("exit", exitHook);
      watchdog = startWatchdog(process.pid, pid, dir, keep);
    }

    // Wait for the port, then for metadata.
    const deadline = Date.now() + timeoutMs;
    let lastErr = "port not open";
    let ready = false;
    while (Date.now() < deadline) {
      if (exited) break;
      if (await portAnswers(port, 1000)) {
        try {
          await withDeadline(kafkaAdminReady(bootstrap, deadline - Date.now()), deadline, "metadata");
          if (opts.warmup ?? true)
            await withDeadline(warmCoordinators(bootstrap), deadline, "coordinator warm-up");
          ready = true;
          break;
        } catch (e) {
          lastErr = e?.message ?? String(e);
        }
      }
      await sleep(250);
    }
    if (!ready) {
      const why = exited
        ? `java exited (${exited.error?.message ?? exited.signal ?? `code ${exited.code}`})`
        : `not ready after ${timeoutMs} ms (${lastErr})`;
      const logTail = await readLogTail(logFile);
      await killPid(pid, { graceMs: 3000, exited: () => !!exited });
      const where = keep ? logFile : `${logFile}, removed; RIVULET_KAFKA_KEEP=1 keeps it`;
      const err = new Error(
        `Kafka ${version} broker failed to start on ${bootstrap}: ${why}\n--- log tail (${where}) ---\n${logTail}`,
      );
      if (/BindException|Address already in use/.test(logTail)) err.code = "EADDRINUSE";
      throw err;
    }

    let stopped = null;
    const stop = () => {
      stopped ??= (async () => {
        stopWatchdog();
        await killPid(pid, { exited: () => !!exited });
        if (!exited && !opts.detached) await Promise.race([exitPromise, sleep(2000)]);
        if (exitHook) process.removeListener("exit", exitHook);
        cleanupDir();
      })();
      return stopped;
    };
    return { bootstrap, port, controllerPort, pid, logDir: dir, logFile, version, stop };
  } catch (e) {
    stopWatchdog();
    if (exitHook) process.removeListener("exit", exitHook);
    cleanupDir();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

function readState() {
  try {
    return JSON.parse(fs.readFileSync(stateFile(), "utf8"));
  } catch {
    return null;
  }
}

async function runningFromState() {
  const st = readState();
  if (!st) return null;
  if (pidAlive(st.pid) && isOurBroker(st.pid, st.dir) && (await portAnswers(st.port))) return st;
  return null;
}

async function cli(cmd) {
  switch (cmd) {
    case "fetch": {
      const dir = await ensureKafkaLibs();
      console.log(dir);
      return 0;
    }
    case "up": {
      const live = await runningFromState();
      if (live) {
        console.log(live.bootstrap);
        return 0;
      }
      await cleanStale();
      const k = await startKafka({ detached: true, keep: true });
      const st = {
        pid: k.pid,
        bootstrap: k.bootstrap,
        port: k.port,
        controllerPort: k.controllerPort,
        dir: k.logDir,
        logFile: k.logFile,
        version: k.version,
        startedAt: new Date().toISOString(),
      };
      await fsp.mkdir(path.dirname(stateFile()), { recursive: true });
      await fsp.writeFile(stateFile(), `${JSON.stringify(st, null, 2)}\n`);
      console.error(
        `[kafka] broker ${k.version} pid ${k.pid}, logs in ${k.logFile}; stop with: node test/infra/kafka.mjs down`,
      );
      console.log(k.bootstrap);
      return 0;
    }
    case "down": {
      const st = readState();
      if (!st) {
        console.log("no broker recorded");
        return 0;
      }
      if (pidAlive(st.pid) && isOurBroker(st.pid, st.dir)) await killPid(st.pid);
      if (st.dir && path.basename(st.dir).startsWith("rivulet-kafka-")) {
        fs.rmSync(st.dir, { recursive: true, force: true });
      }
      fs.rmSync(stateFile(), { force: true });
      console.log(`stopped broker pid ${st.pid} (${st.bootstrap})`);
      return 0;
    }
    case "status": {
      const live = await runningFromState();
      if (live) {
        console.log(live.bootstrap);
        return 0;
      }
      console.log("not running");
      return 1;
    }
    default:
      console.error("usage: node test/infra/kafka.mjs fetch|up|down|status");
      return 2;
  }
}

async function cleanStale() {
  const st = readState();
  if (!st) return;
  if (pidAlive(st.pid) && isOurBroker(st.pid, st.dir)) await killPid(st.pid);
  if (st.dir && path.basename(st.dir).startsWith("rivulet-kafka-"))
    fs.rmSync(st.dir, { recursive: true, force: true });
  fs.rmSync(stateFile(), { force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv[2]).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e?.stack ?? String(e));
      process.exit(1);
    },
  );
}
