import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { count, Pipeline, run, tumbling } from "../../core/index.js";
import { FakeClock, MemoryBroker } from "../../core/testing.js";
import { encodeName, FileStateStore } from "./file-state-store.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rivulet-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("FileStateStore", () => {
  it("stores and reads snapshots per (section, id); unknown ones are undefined", async () => {
    const store = new FileStateStore(join(dir, "nested", "state"));
    expect(await store.get("g/0", "g-1")).toBeUndefined(); // before the directory exists
    await store.put("g/0", "g-1", '{"a":1}');
    await store.put("g/0", "g-2", '{"a":2}');
    await store.put("g/1", "g-2", "");
    expect(await store.get("g/0", "g-1")).toBe('{"a":1}');
    expect(await store.get("g/0", "g-2")).toBe('{"a":2}');
    expect(await store.get("g/1", "g-2")).toBe("");
    expect(await store.get("g/1", "g-1")).toBeUndefined();
    await store.put("g/0", "g-2", '{"a":3}'); // rewriting an id replaces it
    expect(await store.get("g/0", "g-2")).toBe('{"a":3}');
    // A fresh instance (a restarted process) reads what the first one wrote.
    expect(await new FileStateStore(join(dir, "nested", "state")).get("g/0", "g-1")).toBe('{"a":1}');
  });

  it("keeps odd section names apart and inside its directory", async () => {
    const store = new FileStateStore(dir, { durable: false });
    const names = [
      "g/0",
      "g%2F0",
      "../../escape",
      "..",
      ".",
      "",
      "a~b",
      "A",
      "a",
      "__proto__",
      "grüße/ü",
      "emoji 🚀",
      "con",
      "x".repeat(600),
      `${"x".repeat(600)}y`,
      "line\nbreak\u0000nul",
    ];
    for (const [i, n] of names.entries()) await store.put(n, n, `v${i}`);
    for (const [i, n] of names.entries()) expect(await store.get(n, n)).toBe(`v${i}`);
    const files = await readdir(dir, { withFileTypes: true });
    expect(files).toHaveLength(names.length);
    for (const f of files) {
      expect(f.isFile()).toBe(true);
      expect(f.name).toMatch(/^[a-z0-9_%=-]*~[a-z0-9_%=-]*\.snapshot$/i);
      expect(Buffer.byteLength(f.name)).toBeLessThan(255);
    }
    // Case-insensitive file systems must not merge "A" and "a".
    expect(encodeName("A").toLowerCase()).not.toBe(encodeName("a").toLowerCase());
    const ids = await store.ids();
    expect(ids.get("grüße/ü")).toEqual(["grüße/ü"]);
    expect(ids.get("../../escape")).toEqual(["../../escape"]);
    expect(ids.get("__proto__")).toEqual(["__proto__"]);
  });

  it("retain keeps one id of a section and leaves other sections alone", async () => {
    const store = new FileStateStore(dir, { durable: false });
    for (const id of ["g-1", "g-2", "g-3"]) {
      await store.put("g/1", id, id);
      await store.put("g/10", id, id); // "g/1" is a prefix of "g/10": must not be touched
      await store.put("h/1", id, id);
    }
    await store.retain("g/1", "g-2");
    expect(Object.fromEntries(await store.ids())).toEqual({
      "g/1": ["g-2"],
      "g/10": ["g-1", "g-2", "g-3"],
      "h/1": ["g-1", "g-2", "g-3"],
    });
    await store.retain("g/1", "g-9"); // an id it does not hold: the section empties
    expect((await store.ids()).has("g/1")).toBe(false);
    await new FileStateStore(join(dir, "missing")).retain("g/1", "g-1"); // no directory yet: nothing to do
  });

  it("writes atomically: no temporary files remain, a failed write is a STATE error and leaves nothing", async () => {
    const store = new FileStateStore(dir);
    await store.put("g/0", "g-1", "x".repeat(100_000));
    expect(await readdir(dir)).toEqual([`g%2F0~g-1.snapshot`]);
    expect(await readFile(join(dir, "g%2F0~g-1.snapshot"), "utf8")).toHaveLength(100_000);

    const file = join(dir, "not-a-dir");
    await writeFile(file, "");
    const broken = new FileStateStore(join(file, "state"));
    await expect(broken.put("g/0", "g-1", "x")).rejects.toMatchObject({
      _tag: "RivuletError",
      code: "STATE",
      message: expect.stringContaining("could not create the state directory"),
    });
    await rm(join(dir, "g%2F0~g-1.snapshot"));
    // The target name is taken by a directory: rename fails, the temporary file goes.
    await (await import("node:fs/promises")).mkdir(join(dir, "g%2F0~g-2.snapshot"));
    await expect(store.put("g/0", "g-2", "x")).rejects.toMatchObject({ code: "STATE" });
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("rejects a missing directory name", () => {
    expect(() => new FileStateStore("")).toThrow(/needs a directory/);
  });
});

interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
}

const perMinute = () =>
  Pipeline.source<Click>("clicks", { timestamp: (c) => c.ts, watermark: { maxOutOfOrderness: 5_000 } })
    .filter((c) => c.kind === "click")
    .keyBy((c) => c.userId)
    .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: "clicks-late" })
    .aggregate(count())
    .to("clicks-per-minute");

function clicks(from: number, n: number): { key: string; value: Click }[] {
  return Array.from({ length: n }, (_, i) => {
    const userId = `u${(from + i) % 4}`;
    const ts = (from + i) * 7_919;
    return { key: userId, value: { userId, kind: (from + i) % 5 === 0 ? "view" : "click", ts } };
  });
}

async function results(broker: MemoryBroker) {
  return (await broker.records("clicks-per-minute")).map((r) => [r.partition, r.key, r.value, r.timestamp]);
}

describe("a job restarted on a FileStateStore", () => {
  it("resumes with its window state intact: output equals an uninterrupted run", async () => {
    const input = clicks(0, 120);
    const whole = new MemoryBroker();
    await whole.createTopic("clicks", { partitions: 3 });
    await whole.produce("clicks", input);
    const ref = await run(perMinute(), { broker: whole, manual: true, maxBatch: 7, clock: new FakeClock(0) });
    await ref.drain();

    const broker = new MemoryBroker();
    await broker.createTopic("clicks", { partitions: 3 });
    await broker.produce("clicks", input.slice(0, 70));
    const options = { broker, group: "clicks-job", manual: true, maxBatch: 7, clock: new FakeClock(0) };
    const first = await run(perMinute(), { ...options, state: new FileStateStore(dir) });
    for (let i = 0; i < 4; i++) await first.step();
    await first.stop(); // checkpoint: open windows are in the files now
    const held = await new FileStateStore(dir).ids();
    expect([...held.keys()].sort()).toEqual(["clicks-job/0", "clicks-job/1", "clicks-job/2"]);
    for (const ids of held.values()) expect(ids).toHaveLength(1);

    await broker.produce("clicks", input.slice(70));
    // A new store instance on the same directory, as a restarted process would have.
    const second = await run(perMinute(), { ...options, state: new FileStateStore(dir) });
    await second.drain();

    expect(await results(broker)).toEqual(await results(whole));
    expect(first.metrics().records.in + second.metrics().records.in).toBe(input.length);
    // Window state really came from the files: without them the restarted job would miss counts.
    expect(first.metrics().records.aggregated).toBeGreaterThan(0);
  });

  it("fails clearly when the checkpoint the offsets name is gone", async () => {
    const broker = new MemoryBroker();
    await broker.createTopic("clicks", { partitions: 1 });
    await broker.produce("clicks", clicks(0, 10));
    const first = await run(perMinute(), {
      broker,
      group: "g",
      manual: true,
      state: new FileStateStore(dir),
    });
    await first.flush();
    await first.stop();
    await rm(dir, { recursive: true });
    const second = await run(perMinute(), {
      broker,
      group: "g",
      manual: true,
      state: new FileStateStore(dir),
    });
    await expect(second.flush()).rejects.toThrow(
      /checkpoint "g-\d+" of section 0.*missing from the state store/,
    );
  });
});
