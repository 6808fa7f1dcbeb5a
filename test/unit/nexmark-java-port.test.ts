// The Nexmark generator and its Java port (bench/flink/src/main/java/rivulet/bench/NexmarkGenerator.java),
// which `npm run bench -- --flink` feeds Flink with, must make the same events. The bench compares
// the two live (the first 1000 events' JSON, a checksum over 1M); this test needs no Java: it pins
// the checksum of the first 10,000 events to the values the Java port printed
// (`java -cp <bench/flink classpath> rivulet.bench.Main check --first=0 --n=10000 --seed=S`).
// A deliberate change to the generator must change the port too, and these values with it.
import { describe, expect, it } from "vitest";
import { generateNexmark } from "../../core/testing.js";

/** FNV-1a (32 bit) over the UTF-16 units of each event's JSON followed by "\n", as Main.check. */
function checksum(seed: number, n: number): number {
  let h = 0x811c9dc5;
  for (const e of generateNexmark({ seed }, n)) {
    const json = JSON.stringify(e);
    for (let k = 0; k < json.length; k++) h = Math.imul(h ^ json.charCodeAt(k), 0x01000193);
    h = Math.imul(h ^ 10, 0x01000193);
  }
  return h >>> 0;
}

describe("generateNexmark and its Java port in bench/flink", () => {
  it("make the same first 10,000 events (seeds 42 and 7)", () => {
    expect(checksum(42, 10_000)).toBe(3419352475);
    expect(checksum(7, 10_000)).toBe(36264233);
  });
});
