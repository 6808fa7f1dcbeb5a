import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "./cli.js";
import { type KafkaSecurityValues, kafkaSecurity, UsageError } from "./kafka-security-flags.js";

const root = join(import.meta.dirname, "..", "..");
const tls = join(root, "test", "fixtures", "tls");
let scratch: string;
let ca: string;
let cert: string;
let key: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "rivulet-security-flags-"));
  const pem = (f: string) => readFile(join(tls, f), "utf8");
  [ca, cert, key] = [await pem("ca.pem"), await pem("client.pem"), await pem("client.key")];
  await writeFile(join(scratch, "password"), "s3cret\n");
  await writeFile(join(scratch, "empty"), "\n");
  await writeFile(join(scratch, "not-pem"), "hello\n");
  const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await writeFile(join(scratch, "other.key"), other.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(
    join(scratch, "encrypted.key"),
    other.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" }),
  );
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const parse = (v: KafkaSecurityValues, env: NodeJS.ProcessEnv = {}) =>
  kafkaSecurity(v, { env, cwd: scratch });

describe("kafkaSecurity: the flags as KafkaJS's sasl and ssl", () => {
  it("no flags: plaintext, nothing to add", () => {
    expect(parse({})).toEqual({ config: {}, summary: "", warnings: [] });
  });

  it("SCRAM with the password from RIVULET_SASL_PASSWORD, another variable or a file", () => {
    const sasl = { "sasl-mechanism": "scram-sha-256", "sasl-username": "alice" };
    expect(parse(sasl, { RIVULET_SASL_PASSWORD: "pw" })).toEqual({
      config: { sasl: { mechanism: "scram-sha-256", username: "alice", password: "pw" } },
      summary: "SASL scram-sha-256 as alice",
      warnings: [],
    });
    expect(
      parse({ ...sasl, "sasl-mechanism": "SCRAM-SHA-512", "sasl-password-env": "MY_PW" }, { MY_PW: "pw2" })
        .config,
    ).toEqual({ sasl: { mechanism: "scram-sha-512", username: "alice", password: "pw2" } });
    // One trailing newline (as `echo` writes) is not part of the password.
    expect(parse({ ...sasl, "sasl-password-file": "password" }).config.sasl).toMatchObject({
      password: "s3cret",
    });
  });

  it("PLAIN without TLS works but warns; with --tls it does not", () => {
    const plain = { "sasl-mechanism": "plain", "sasl-username": "bob" };
    const env = { RIVULET_SASL_PASSWORD: "pw" };
    expect(parse(plain, env).warnings).toEqual([
      "--sasl-mechanism plain without --tls sends the password in clear text",
    ]);
    const secured = parse({ ...plain, tls: true }, env);
    expect(secured.warnings).toEqual([]);
    expect(secured.config).toEqual({
      sasl: { mechanism: "plain", username: "bob", password: "pw" },
      ssl: true,
    });
    expect(secured.summary).toBe("SASL plain as bob, TLS");
  });

  it("--tls alone trusts the system's CAs; --tls-ca and --tls-cert/--tls-key give PEM contents", () => {
    expect(parse({ tls: true })).toEqual({ config: { ssl: true }, summary: "TLS", warnings: [] });
    expect(parse({ "tls-ca": join(tls, "ca.pem") }).config).toEqual({ ssl: { ca } });
    const mtls = parse({
      tls: true,
      "tls-ca": join(tls, "ca.pem"),
      "tls-cert": join(tls, "client.pem"),
      "tls-key": join(tls, "client.key"),
    });
    expect(mtls.config).toEqual({ ssl: { ca, cert, key } });
    expect(mtls.summary).toMatch(/^TLS \(CA .*ca\.pem, client certificate .*client\.pem\)$/);
  });

  it.each<[string, KafkaSecurityValues, NodeJS.ProcessEnv, RegExp]>([
    [
      "an unknown mechanism",
      { "sasl-mechanism": "gssapi", "sasl-username": "a" },
      {},
      /--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512, got "gssapi"/,
    ],
    [
      "a mechanism without a user",
      { "sasl-mechanism": "scram-sha-256" },
      { RIVULET_SASL_PASSWORD: "pw" },
      /--sasl-mechanism scram-sha-256 needs --sasl-username <name>/,
    ],
    ["a user without a mechanism", { "sasl-username": "a" }, {}, /--sasl-username needs --sasl-mechanism/],
    [
      "a password file without a mechanism",
      { "sasl-password-file": "password" },
      {},
      /--sasl-password-file needs --sasl-mechanism/,
    ],
    [
      "no password",
      { "sasl-mechanism": "plain", "sasl-username": "a" },
      {},
      /no SASL password: the environment variable RIVULET_SASL_PASSWORD is not set or empty \(name another with --sasl-password-env, or use --sasl-password-file\)/,
    ],
    [
      "a named variable that is unset",
      { "sasl-mechanism": "plain", "sasl-username": "a", "sasl-password-env": "KAFKA_PW" },
      {},
      /the environment variable KAFKA_PW is not set or empty$/,
    ],
    [
      "both password sources",
      {
        "sasl-mechanism": "plain",
        "sasl-username": "a",
        "sasl-password-env": "X",
        "sasl-password-file": "f",
      },
      { X: "pw" },
      /--sasl-password-env and --sasl-password-file exclude each other/,
    ],
    [
      "an unreadable password file",
      { "sasl-mechanism": "plain", "sasl-username": "a", "sasl-password-file": "nope" },
      {},
      /--sasl-password-file: cannot read nope \(ENOENT\)/,
    ],
    [
      "an empty password file",
      { "sasl-mechanism": "plain", "sasl-username": "a", "sasl-password-file": "empty" },
      {},
      /--sasl-password-file: empty is empty/,
    ],
    [
      "an unreadable CA file",
      { "tls-ca": "missing-ca.pem" },
      {},
      /--tls-ca: cannot read missing-ca\.pem \(ENOENT\)/,
    ],
    ["a CA file that is no PEM", { "tls-ca": "not-pem" }, {}, /--tls-ca: not-pem holds no PEM certificate/],
    [
      "a certificate without its key",
      { "tls-cert": join(tls, "client.pem") },
      {},
      /--tls-cert needs --tls-key/,
    ],
    ["a key without a certificate", { "tls-key": join(tls, "client.key") }, {}, /--tls-key needs --tls-cert/],
    [
      "a key of another certificate",
      { "tls-cert": join(tls, "client.pem"), "tls-key": "other.key" },
      {},
      /--tls-key: other\.key is not the private key of the certificate in .*client\.pem/,
    ],
    [
      "an encrypted key",
      { "tls-cert": join(tls, "client.pem"), "tls-key": "encrypted.key" },
      {},
      /--tls-key: encrypted\.key is encrypted; give an unencrypted key/,
    ],
  ])("%s is a usage error", (_, values, env, message) => {
    let error: unknown;
    try {
      parse(values, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });

  it("a password given as the variable's name is refused without being echoed", () => {
    const values = { "sasl-mechanism": "plain", "sasl-username": "a", "sasl-password-env": "hunter2!" };
    expect(() => parse(values)).toThrow(/takes the name of an environment variable/);
    expect(() => parse(values)).not.toThrow(/hunter2/);
  });
});

describe("the security flags on both commands", () => {
  const fixture = "test/fixtures/clicks-pipeline.ts";
  async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
    let out = "";
    let err = "";
    const code = await main(argv, {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      cwd: root,
      env,
      onSignal: () => () => {},
    });
    return { code, out, err };
  }

  it("--help of run and proxy lists them", async () => {
    for (const command of ["run", "proxy"]) {
      const { code, out } = await cli([command, "--help"]);
      expect(code).toBe(0);
      for (const flag of [
        "--sasl-mechanism <m>",
        "--sasl-username <name>",
        "--sasl-password-env <var>",
        "--sasl-password-file <f>",
        "--tls ",
        "--tls-ca <file>",
        "--tls-cert <file>",
        "--tls-key <file>",
      ])
        expect(out).toContain(flag);
      expect(out).toContain("RIVULET_SASL_PASSWORD");
    }
  });

  it.each([
    [["run", fixture, "--brokers", "h:1", "--group", "g"], 'Run "rivulet run --help"'],
    [["proxy", "--brokers", "h:1", "--port", "0"], 'Run "rivulet proxy --help"'],
  ])("%j: bad security flags exit 2 before connecting", async (argv, pointer) => {
    const unknown = await cli([...argv, "--sasl-mechanism", "kerberos", "--sasl-username", "a"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/rivulet: --sasl-mechanism must be plain, scram-sha-256 or scram-sha-512/);
    expect(unknown.err).toContain(pointer);

    const noUser = await cli([...argv, "--sasl-mechanism", "scram-sha-512"]);
    expect(noUser.code).toBe(2);
    expect(noUser.err).toMatch(/--sasl-mechanism scram-sha-512 needs --sasl-username/);

    const ca = await cli([...argv, "--tls-ca", "no/such/ca.pem"]);
    expect(ca.code).toBe(2);
    expect(ca.err).toMatch(/--tls-ca: cannot read no\/such\/ca\.pem \(ENOENT\)/);

    // A password as a flag value is no option at all.
    const flag = await cli([...argv, "--sasl-password", "pw"]);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/Unknown option '--sasl-password'/);
  });
});
