import { describe, expect, it } from "vitest";
import { PART_CHARS, SnapshotCollector, snapshotRecords } from "./changelog-records.js";

const records = (section: string, id: string, snapshot: string) =>
  snapshotRecords("t", section, 3, id, snapshot).map((r) => [r.key!, r.value as string] as const);

describe("changelog records", () => {
  it("a small snapshot is one record keyed by its section; a large one goes in parts", () => {
    expect(records("g/3", "g-1", "{}")).toEqual([["g/3", '{"id":"g-1","part":0,"parts":1}\n{}']]);
    const big = "x".repeat(2 * PART_CHARS + 5);
    const parts = records("g/3", "g-2", big);
    expect(parts.map(([k]) => k)).toEqual(["g/3#0", "g/3#1", "g/3#2"]);
    for (const [, v] of parts) expect(v.length).toBeLessThan(PART_CHARS + 100);
    const c = new SnapshotCollector();
    for (const [k, v] of parts) c.add(k, v);
    expect(c.get("g/3", "g-2")).toBe(big);
  });

  it("keeps the last two snapshots of each section and the wanted ones, not every one read", () => {
    const c = new SnapshotCollector(new Map([["g/0", "g-2"]]));
    for (let i = 1; i <= 50; i++)
      for (const s of ["g/0", "g/1"]) for (const [k, v] of records(s, `g-${i}`, `${s}@${i}`)) c.add(k, v);
    expect(c.get("g/0", "g-50")).toBe("g/0@50");
    expect(c.get("g/0", "g-49")).toBe("g/0@49");
    expect(c.get("g/0", "g-2")).toBe("g/0@2"); // wanted
    expect(c.get("g/0", "g-48")).toBeUndefined();
    expect(c.get("g/1", "g-2")).toBeUndefined();
    expect(c.get("g/1", "g-50")).toBe("g/1@50");
  });

  it("parts left over from an older, longer snapshot do not mix into a newer one", () => {
    const c = new SnapshotCollector();
    const older = records("g/0", "g-1", "a".repeat(3 * PART_CHARS));
    const newer = records("g/0", "g-2", "b".repeat(PART_CHARS + 1));
    // After compaction: the newer parts 0 and 1, then the older part 2 that nothing overwrote.
    for (const [k, v] of [...older.slice(2), ...newer]) c.add(k, v);
    expect(c.get("g/0", "g-2")).toBe("b".repeat(PART_CHARS + 1));
    expect(c.get("g/0", "g-1")).toBeUndefined();
  });

  it("reads the earlier one-record format", () => {
    const c = new SnapshotCollector();
    c.add("g/0", JSON.stringify({ id: "g-7", snapshot: '{"v":2}' }));
    expect(c.get("g/0", "g-7")).toBe('{"v":2}');
  });
});
