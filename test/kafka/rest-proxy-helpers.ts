// Helpers for the REST proxy suites: the proxy as a user runs it (`bin/rivulet.mjs proxy` in a
// child process on a free 127.0.0.1 port, stopped by the pid this file spawned, never by name),
// plain fetch calls against it, and topics made with KafkaJS directly.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "rivulet.mjs");

export const V2 = "application/vnd.kafka.v2+json";
export const BINARY = "application/vnd.kafka.binary.v2+json";
export const JSON_V2 = "application/vnd.kafka.json.v2+json";

export const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
export const unb64 = (s: string | null) => (s === null ? null : Buffer.from(s, "base64").toString("utf8"));

export interface ProxyProcess {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM by pid; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Starts `rivulet proxy` against `bootstrap`; resolves once it prints its URL. */
export async function startProxy(bootstrap: string, args: string[] = []): Promise<ProxyProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [bin, "proxy", "--brokers", bootstrap, "--port", String(port), "--host", "127.0.0.1", ...args],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxy did not start within 60 s:\n${err}`)), 60_000);
    const check = () => {
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited (${code}) before it listened:\n${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM"); // by its pid
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
  ms: number;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is, instead of `body` as JSON. */
  raw?: string;
  contentType?: string | null;
  accept?: string;
  token?: string;
}

/** One HTTP call; the body parsed as JSON when it is JSON. */
export async function call(
  base: string,
  method: string,
  path: string,
  { body, raw, contentType, accept, token }: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (accept !== undefined) headers.accept = accept;
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined && contentType !== null) headers["content-type"] = contentType ?? V2;
  const started = Date.now();
  // A string body would get text/plain from fetch: bytes go without a Content-Type.
  const sent =
    payload === undefined ? {} : { body: contentType === null ? new TextEncoder().encode(payload) : payload };
  const res = await fetch(`${base}${path}`, { method, headers, ...sent });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text, ms: Date.now() - started };
}

/** A GET with a body (v2's `GET .../offsets`), which fetch() cannot send: over node:http. */
export async function getWithBody(
  base: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<Answer> {
  const { request } = await import("node:http");
  const payload = JSON.stringify(body);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: "GET",
        agent: false,
        headers: {
          "content-type": V2,
          "content-length": Buffer.byteLength(payload),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            body: text === "" ? undefined : JSON.parse(text),
            text,
            ms: Date.now() - started,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Creates topics with KafkaJS's admin, independent of the proxy. */
export async function createTopics(bootstrap: string, topics: { topic: string; partitions: number }[]) {
  const kafka = new Kafka({ clientId: "rest-proxy-test", brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Topic names on the broker, as KafkaJS sees them. */
export async function topicExists(bootstrap: string, topic: string): Promise<boolean> {
  const kafka = new Kafka({ clientId: "rest-proxy-test", brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}
