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

/** A checkpoint of `sections` (section -> snapshot) under `id` (`<group>-<seq>`). */
const cp = (id: string, sections: Record<string, unknown>) => ({
  id,
  seq: Number(id.slice(id.lastIndexOf("-") + 1)),
  sections: new Map(Object.entries(sections)),
});

describe("FileStateStore", () => {
  it("stores structured snapshots per (section, id) and reads them back; unknown ones are undefined", async () => {
    const store = new FileStateStore(join(dir, "nested", "state"));
    expect(await store.get("g/0", "g-1")).toBeUndefined(); // before the directory exists
    expect(await store.latest("g/0")).toBeUndefined();
    const rich = {
      m: new Map<unknown, unknown>([[1, new Set(["x"])]]),
      u: undefined,
      n: Number.NaN,
      big: 2n,
    };
    await store.put(cp("g-1", { "g/0": rich }));
    await store.put(cp("g-2", { "g/0": { a: 2 }, "g/1": "" }));
    expect(await store.get("g/0", "g-1")).toEqual(rich);
    expect(await store.get("g/0", "g-2")).toEqual({ a: 2 });
    expect(await store.get("g/1", "g-2")).toBe("");
    expect(await store.get("g/1", "g-1")).toBeUndefined();
    await store.put(cp("g-2", { "g/0": { a: 3 }, "g/1": "" })); // putting an id again replaces it
    expect(await store.get("g/0", "g-2")).toEqual({ a: 3 });
    // A fresh instance (a restarted process) reads what the first one wrote.
    const again = new FileStateStore(join(dir, "nested", "state"));
    expect(await again.get("g/0", "g-1")).toEqual(rich);
    expect(await again.latest("g/0")).toBe("g-2");
    expect(await again.latest("g/1")).toBe("g-2");
  });

  it("latest is the newest complete checkpoint of a section: one whose manifest was written", async () => {
    const store = new FileStateStore(dir, { durable: false });
    await store.put(cp("g-1", { "g/0": 1, "g/1": 1 }));
    await store.put(cp("g-2", { "g/0": 2 })); // another member's checkpoint of its own section
    expect(await store.latest("g/0")).toBe("g-2");
    expect(await store.latest("g/1")).toBe("g-1");
    // A crash between the snapshot files and the manifest: the files are there, the checkpoint is not.
    await store.put(cp("g-3", { "g/0": 3, "g/1": 3 }));
    await rm(join(dir, "~g-3.checkpoint"));
    expect(await store.latest("g/0")).toBe("g-2");
    expect(await store.latest("g/1")).toBe("g-1");
    // Sequence numbers order checkpoints, not names ("g-10" sorts before "g-9" as text).
    await store.put(cp("g-10", { "g/1": 10 }));
    await store.put(cp("g-9", { "g/1": 9 }));
    expect(await store.latest("g/1")).toBe("g-10");
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
    for (const [i, n] of names.entries())
      await store.put({ id: n, seq: i, sections: new Map([[n, `v${i}`]]) });
    for (const [i, n] of names.entries()) expect(await store.get(n, n)).toBe(`v${i}`);
    for (const [i, n] of names.entries()) expect(await store.latest(n)).toBe(names[i]);
    const files = await readdir(dir, { withFileTypes: true });
    expect(files).toHaveLength(2 * names.length); // a snapshot and a manifest each
    for (const f of files) {
      expect(f.isFile()).toBe(true);
      expect(f.name).toMatch(/^([a-z0-9_%=-]*~[a-z0-9_%=-]*\.snapshot|~[a-z0-9_%=-]*\.checkpoint)$/i);
      expect(Buffer.byteLength(f.name)).toBeLessThan(255);
    }
    // Case-insensitive file systems must not merge "A" and "a".
    expect(encodeName("A").toLowerCase()).not.toBe(encodeName("a").toLowerCase());
    const ids = await store.ids();
    expect(ids.get("grüße/ü")).toEqual(["grüße/ü"]);
    expect(ids.get("../../escape")).toEqual(["../../escape"]);
    expect(ids.get("__proto__")).toEqual(["__proto__"]);
  });

  it("retain keeps one id of a section, leaves other sections alone, and drops manifests left empty", async () => {
    const store = new FileStateStore(dir, { durable: false });
    for (const id of ["g-1", "g-2", "g-3"]) {
      // "g/1" is a prefix of "g/10": must not be touched
      await store.put(cp(id, { "g/1": id, "g/10": id }));
      await store.put(cp(id.replace("g", "h"), { "h/1": id }));
    }
    await store.retain("g/1", "g-2");
    expect(Object.fromEntries(await store.ids())).toEqual({
      "g/1": ["g-2"],
      "g/10": ["g-1", "g-2", "g-3"],
      "h/1": ["h-1", "h-2", "h-3"],
    });
    await store.retain("g/10", "g-2");
    expect((await readdir(dir)).filter((n) => n.startsWith("~g-")).sort()).toEqual(["~g-2.checkpoint"]);
    expect(await store.latest("g/1")).toBe("g-2");
    await store.retain("g/1", "g-9"); // an id it does not hold: the section empties
    expect((await store.ids()).has("g/1")).toBe(false);
    await new FileStateStore(join(dir, "missing")).retain("g/1", "g-1"); // no directory yet: nothing to do
  });

  it("writes atomically: no temporary files remain, a failed write is a STATE error and leaves nothing", async () => {
    const store = new FileStateStore(dir);
    await store.put(cp("g-1", { "g/0": "x".repeat(100_000) }));
    expect((await readdir(dir)).sort()).toEqual(["g%2F0~g-1.snapshot", "~g-1.checkpoint"]);
    expect(await readFile(join(dir, "g%2F0~g-1.snapshot"), "utf8")).toHaveLength(100_002); // a JSON string

    const file = join(dir, "not-a-dir");
    await writeFile(file, "");
    const broken = new FileStateStore(join(file, "state"));
    await expect(broken.put(cp("g-1", { "g/0": "x" }))).rejects.toMatchObject({
      _tag: "RivuletError",
      code: "STATE",
      message: expect.stringContaining("could not create the state directory"),
    });
    // The target name is taken by a directory: rename fails, the temporary file goes, no manifest.
    await (await import("node:fs/promises")).mkdir(join(dir, "g%2F0~g-2.snapshot"));
    await expect(store.put(cp("g-2", { "g/0": "x" }))).rejects.toMatchObject({
      code: "STATE",
      retriable: true,
    });
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(await store.latest("g/0")).toBe("g-1");
    // A snapshot that cannot be encoded writes nothing at all.
    await expect(store.put(cp("g-3", { "g/0": () => 1 }))).rejects.toThrow(/cannot snapshot a function/);
    expect((await readdir(dir)).filter((n) => n.includes("g-3"))).toEqual([]);
  });

  it("a corrupt snapshot file is a clear STATE error", async () => {
    const store = new FileStateStore(dir, { durable: false });
    await store.put(cp("g-1", { "g/0": { a: 1 } }));
    await writeFile(join(dir, "g%2F0~g-1.snapshot"), "{not json");
    await expect(store.get("g/0", "g-1")).rejects.toMatchObject({
      code: "STATE",
      message: expect.stringContaining("is corrupt"),
    });
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
