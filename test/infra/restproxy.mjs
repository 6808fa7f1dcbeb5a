#!/usr/bin/env node
// Rivulet's Kafka REST proxy (Confluent's v2 API, `rivulet proxy`) in front of the broker of
// `node test/infra/kafka.mjs up`, for development and the edge adapter's tests. Plain Node ESM.
//
//   node test/infra/restproxy.mjs up       start it (and the broker first when none runs) as a
//                                          process that outlives the command; last line = base URL
//   node test/infra/restproxy.mjs down     stop it, by the pid in its pid file (never by name)
//   node test/infra/restproxy.mjs status   print its base URL, exit 1 if none runs
//
// It binds 127.0.0.1, on port 8082 (Confluent's) when free, else on a free one.
// Environment:
//   RIVULET_CACHE          cache root for the pid file and the log (default ~/.cache/rivulet)
//   RIVULET_PROXY_PORT     port to use instead
//   RIVULET_PROXY_TOKENS   bearer tokens the proxy requires (comma-separated; default: no auth)

import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot } from "./kafka.mjs";

const HOST = "127.0.0.1";
const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = path.join(root, "bin", "rivulet.mjs");
const kafkaScript = fileURLToPath(new URL("./kafka.mjs", import.meta.url));

const pidFile = () => path.join(cacheRoot(), "restproxy.pid");
const stateFile = () => path.join(cacheRoot(), "restproxy.json");
const logFile = () => path.join(cacheRoot(), "restproxy.log");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readState() {
  try {
    const pid = Number(fs.readFileSync(pidFile(), "utf8").trim());
    const st = JSON.parse(fs.readFileSync(stateFile(), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? { ...st, pid } : null;
  } catch {
    return null;
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/** Guards against pid reuse: is `pid` a `rivulet proxy` of this checkout? */
function isOurProxy(pid) {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmd.includes(bin) && cmd.includes("proxy");
  } catch {
    return !fs.existsSync("/proc/self/cmdline");
  }
}

/** Resolves with the HTTP status of GET url, or 0 when nothing answers. */
function probe(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** An answer at all (200, or 401 when tokens are required) means it serves. */
async function answers(url) {
  const status = await probe(`${url}/`);
  return status === 200 || status === 401;
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function freePort() {
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

/** The bootstrap of `kafka.mjs up`'s broker, started when none runs (its last output line). */
function kafkaUp() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kafkaScript, "up"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop()?.trim() ?? "";
      if (code === 0 && /^[\w.-]+:\d+$/.test(last)) resolve(last);
      else reject(new Error(`kafka.mjs up failed (exit ${code}):\n${out}`));
    });
  });
}

async function running() {
  const st = readState();
  if (st && pidAlive(st.pid) && isOurProxy(st.pid) && (await answers(st.url))) return st;
  return null;
}

async function up() {
  const live = await running();
  if (live) {
    console.log(live.url);
    return 0;
  }
  await down({ quiet: true });
  const bootstrap = await kafkaUp();
  const wanted = Number(process.env.RIVULET_PROXY_PORT) || 8082;
  const port = (await portFree(wanted)) ? wanted : await freePort();
  const url = `http://${HOST}:${port}`;
  await fsp.mkdir(cacheRoot(), { recursive: true });
  const log = fs.openSync(logFile(), "a");
  const child = spawn(
    process.execPath,
    [bin, "proxy", "--brokers", bootstrap, "--port", String(port), "--host", HOST],
    { cwd: root, detached: true, stdio: ["ignore", log, log], env: process.env },
  );
  fs.closeSync(log);
  let exited = null;
  child.once("exit", (code, signal) => (exited = signal ?? `exit ${code}`));
  child.unref();
  await fsp.writeFile(pidFile(), `${child.pid}\n`);
  await fsp.writeFile(
    stateFile(),
    `${JSON.stringify({ url, port, bootstrap, log: logFile(), startedAt: new Date().toISOString() }, null, 2)}\n`,
  );
  const deadline = Date.now() + 60_000;
  while (!(await answers(url))) {
    if (exited || Date.now() > deadline) {
      const tail = fs.readFileSync(logFile(), "utf8").split("\n").slice(-30).join("\n");
      console.error(`[restproxy] the proxy did not start (${exited ?? "no answer within 60 s"}):\n${tail}`);
      await down({ quiet: true });
      return 1;
    }
    await sleep(200);
  }
  console.error(
    `[restproxy] Kafka REST proxy pid ${child.pid} for Kafka at ${bootstrap}, logs in ${logFile()}; stop with: npm run restproxy:down`,
  );
  console.log(url);
  return 0;
}

async function down({ quiet = false } = {}) {
  const st = readState();
  if (!st) {
    if (!quiet) console.log("no REST proxy recorded");
    return 0;
  }
  if (pidAlive(st.pid) && isOurProxy(st.pid)) {
    process.kill(st.pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (pidAlive(st.pid) && Date.now() < deadline) await sleep(100);
    if (pidAlive(st.pid)) process.kill(st.pid, "SIGKILL");
  }
  fs.rmSync(pidFile(), { force: true });
  fs.rmSync(stateFile(), { force: true });
  if (!quiet) console.log(`stopped the REST proxy pid ${st.pid} (${st.url})`);
  return 0;
}

async function status() {
  const live = await running();
  console.log(live ? live.url : "not running");
  return live ? 0 : 1;
}

const commands = { up, down, status };
const command = commands[process.argv[2]];
if (!command) {
  console.error("usage: node test/infra/restproxy.mjs up|down|status");
  process.exit(2);
}
command().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
  },
);
