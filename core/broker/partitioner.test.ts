import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey } from "./partitioner.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("murmur2", () => {
  // Vectors from Kafka's own UtilsTest (org.apache.kafka.common.utils), so keys land where Kafka puts them.
  it.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ])("hashes %j as Kafka does", (s, h) => {
    expect(murmur2(bytes(s))).toBe(h);
  });

  it("spreads keys over partitions, always in range and stable", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = partitionForKey(`user-${i}`, 6);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(6);
      expect(partitionForKey(`user-${i}`, 6)).toBe(p);
      seen.add(p);
    }
    expect(seen.size).toBe(6);
  });
});
