// A second, secured Kafka broker for test/kafka/sasl.test.ts, apart from the suite's shared one
// (test/infra/kafka.mjs, left as it is): KRaft, single node, every listener on 127.0.0.1 on free
// ports, in a temp dir:
//   INTERNAL    PLAINTEXT       inter-broker traffic, and the tests' own setup and checks
//   CONTROLLER  PLAINTEXT       the KRaft controller
//   SASL        SASL_PLAINTEXT  SCRAM-SHA-256 and SCRAM-SHA-512, users made by `StorageTool format --add-scram`
//   MTLS        SSL             mutual TLS: a fresh CA, the broker's certificate and a client's, made
//                               with openssl (the listener is left out when openssl is missing)
// Same classpath as the shared broker (cached by test/infra/kafka.mjs). Stopped by the pid this
// file spawned, never by name; a watchdog (its own session) kills it if this process dies first.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const run = promisify(execFile);
const HOST = "127.0.0.1";

export interface ScramUser {
  name: string;
  password: string;
}

export interface SecureKafka {
  /** PLAINTEXT listener: the tests' own admin, producers and readers. */
  plaintext: string;
  /** SASL_PLAINTEXT listener, SCRAM-SHA-256 and SCRAM-SHA-512. */
  sasl: string;
  /** SSL listener requiring a client certificate; undefined without openssl. */
  mtls: string | undefined;
  /** `ca.pem`, `client.pem`, `client.key` for the MTLS listener. */
  tlsDir: string | undefined;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

type KafkaInfra = { ensureKafkaLibs(opts?: { quiet?: boolean }): Promise<string> };
const infra = () => import(new URL("../infra/kafka.mjs", import.meta.url).href) as Promise<KafkaInfra>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: HOST });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function hasOpenssl(): Promise<boolean> {
  try {
    await run("openssl", ["version"]);
    return true;
  } catch {
    return false;
  }
}

/** A CA, a broker certificate for 127.0.0.1 (as PKCS#12 for Java) and a client certificate. */
async function makeCertificates(dir: string, storePassword: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await ssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=rivulet-sasl-test-ca",
  );
  await writeFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, subject, ext] of [
    ["broker", "/CN=127.0.0.1", ["-extfile", "san.ext"]],
    ["client", "/CN=rivulet-sasl-test-client", []],
  ] as const) {
    await ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    await ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      ...ext,
    );
  }
  await ssl(
    "pkcs12",
    "-export",
    "-in",
    "broker.pem",
    "-inkey",
    "broker.key",
    "-out",
    "broker.p12",
    "-passout",
    `pass:${storePassword}`,
  );
}

function serverProperties(p: {
  dir: string;
  ports: { internal: number; controller: number; sasl: number; mtls: number };
  tls: { storePassword: string } | undefined;
}): string {
  const { dir, ports, tls } = p;
  const listeners = [
    `INTERNAL://${HOST}:${ports.internal}`,
    `SASL://${HOST}:${ports.sasl}`,
    ...(tls ? [`MTLS://${HOST}:${ports.mtls}`] : []),
  ];
  const jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const props: Record<string, string> = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.voters": `1@${HOST}:${ports.controller}`,
    listeners: [...listeners, `CONTROLLER://${HOST}:${ports.controller}`].join(","),
    "advertised.listeners": listeners.join(","),
    "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT,MTLS:SSL",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "INTERNAL",
    "listener.name.sasl.sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
    "listener.name.sasl.scram-sha-256.sasl.jaas.config": jaas,
    "listener.name.sasl.scram-sha-512.sasl.jaas.config": jaas,
    ...(tls
      ? {
          "listener.name.mtls.ssl.keystore.type": "PKCS12",
          "listener.name.mtls.ssl.keystore.location": join(dir, "tls", "broker.p12"),
          "listener.name.mtls.ssl.keystore.password": tls.storePassword,
          "listener.name.mtls.ssl.truststore.type": "PEM",
          "listener.name.mtls.ssl.truststore.location": join(dir, "tls", "ca.pem"),
          "listener.name.mtls.ssl.client.auth": "required",
        }
      : {}),
    "log.dirs": join(dir, "data"),
    "metadata.log.dir": join(dir, "metadata"),
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
    "log.cleaner.dedupe.buffer.size": String(8 * 1024 * 1024),
    "log.message.timestamp.before.max.ms": String(Number.MAX_SAFE_INTEGER),
    "log.message.timestamp.after.max.ms": String(Number.MAX_SAFE_INTEGER),
    "auto.leader.rebalance.enable": "false",
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v.replaceAll("\\", "\\\\")}`)
    .join("\n")}\n`;
}

const LOG4J = `status = error
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
`;

/** Kills `brokerPid` once `parentPid` is gone (a test runner killed before its afterAll). */
function watchdog(parentPid: number, brokerPid: number): number | undefined {
  const script = `P=$1; J=$2
while kill -0 "$P" 2>/dev/null && kill -0 "$J" 2>/dev/null; do sleep 1; done
kill -KILL "$J" 2>/dev/null`;
  const w = spawn("sh", ["-c", script, "rivulet-sasl-kafka-watchdog", String(parentPid), String(brokerPid)], {
    detached: true,
    stdio: "ignore",
  });
  w.on("error", () => {});
  w.unref();
  return w.pid;
}

/** Creates the group and transaction coordinators' topics, so the first job does not wait for them. */
async function warmUp(bootstrap: string): Promise<void> {
  const kafka = new Kafka({
    clientId: "rivulet-sasl-warmup",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeGroups(["rivulet-sasl-warmup"]);
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({
    transactionalId: "rivulet-sasl-warmup",
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    await (await producer.transaction()).abort();
  } finally {
    await producer.disconnect();
  }
}

/**
 * Starts the secured broker with the given SCRAM users (each gets SCRAM-SHA-256 and -512
 * credentials); resolves once every listener answers and the coordinators exist.
 */
export async function startSecureKafka(
  users: ScramUser[],
  { timeoutMs = 60_000 } = {},
): Promise<SecureKafka> {
  const libs = join(await (await infra()).ensureKafkaLibs({ quiet: true }), "libs", "*");
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
  const dir = await mkdtemp(join(tmpdir(), "rivulet-sasl-kafka-"));
  let child: ReturnType<typeof spawn> | undefined;
  let guard: number | undefined;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const onExit = () => {
    if (child?.pid !== undefined && !exited) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {}
    }
  };
  const stop = async () => {
    process.off("exit", onExit);
    if (child?.pid !== undefined && !exited) {
      const gone = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM"); // by its pid
      const timer = setTimeout(() => child!.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    }
    if (guard !== undefined) {
      try {
        process.kill(guard, "SIGTERM");
      } catch {}
    }
    if (process.env.RIVULET_KAFKA_KEEP !== "1") await rm(dir, { recursive: true, force: true });
  };
  try {
    const tls = (await hasOpenssl()) ? { storePassword: randomBytes(12).toString("hex") } : undefined;
    if (tls) {
      fs.mkdirSync(join(dir, "tls"));
      await makeCertificates(join(dir, "tls"), tls.storePassword);
    }
    const ports = { internal: 0, controller: 0, sasl: 0, mtls: 0 };
    const taken = new Set<number>();
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) {
      let p: number;
      do p = await freePort();
      while (taken.has(p));
      taken.add(p);
      ports[k] = p;
    }
    const propsFile = join(dir, "server.properties");
    await writeFile(propsFile, serverProperties({ dir, ports, tls }));
    await writeFile(join(dir, "log4j2.properties"), LOG4J);
    const jvm = ["-Djava.awt.headless=true", `-Dlog4j2.configurationFile=${join(dir, "log4j2.properties")}`];
    // A cluster id is 16 random bytes in URL-safe base64 (Kafka's Uuid); one not starting with "-".
    let clusterId: string;
    do clusterId = randomBytes(16).toString("base64url");
    while (clusterId.startsWith("-"));
    const scram = users.flatMap((u) =>
      ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((m) => [
        "--add-scram",
        `${m}=[name=${u.name},password=${u.password}]`,
      ]),
    );
    await run(
      java,
      [
        ...jvm,
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        libs,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        propsFile,
        ...scram,
      ],
      { cwd: dir },
    );
    const log = fs.openSync(join(dir, "kafka.log"), "a");
    child = spawn(
      java,
      [
        ...jvm,
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        libs,
        "kafka.Kafka",
        propsFile,
      ],
      { cwd: dir, stdio: ["ignore", log, log] },
    );
    fs.closeSync(log);
    child.once("exit", (code, signal) => (exited = { code, signal }));
    process.once("exit", onExit);
    if (child.pid !== undefined) guard = watchdog(process.pid, child.pid);

    const plaintext = `${HOST}:${ports.internal}`;
    const deadline = Date.now() + timeoutMs;
    const wanted = [ports.internal, ports.sasl, ...(tls ? [ports.mtls] : [])];
    for (;;) {
      if (exited) throw new Error(`the broker exited (${exited.signal ?? exited.code})`);
      if (Date.now() > deadline) throw new Error(`the broker did not listen within ${timeoutMs} ms`);
      if ((await Promise.all(wanted.map(answers))).every(Boolean)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await warmUp(plaintext);
    return {
      plaintext,
      sasl: `${HOST}:${ports.sasl}`,
      mtls: tls ? `${HOST}:${ports.mtls}` : undefined,
      tlsDir: tls ? join(dir, "tls") : undefined,
      pid: child.pid!,
      dir,
      stop,
    };
  } catch (e) {
    const tail = await readFile(join(dir, "kafka.log"), "utf8").catch(() => "");
    await stop();
    throw new Error(
      `the secured Kafka broker did not start: ${(e as Error).message}\n${tail.split("\n").slice(-30).join("\n")}`,
    );
  }
}
