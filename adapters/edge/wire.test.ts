import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ID_HEADER, OutputBuffer } from "../../core/index.js";
import { Base64Slab, fromBase64, fromUtf8, produceBodies, toBase64, utf8 } from "./wire.js";

/** What the bytes of a base64 string say, as text. */
const text = (b64: string) => fromUtf8(fromBase64(b64));

/**
 * The reference: each record as an object, the body by `JSON.stringify` (what RestProxyBroker
 * sent before it wrote bodies as text), one list per topic.
 */
function reference(out: OutputBuffer): Map<string, unknown[]> {
  const byTopic = new Map<string, unknown[]>();
  for (let r = 0; r < out.runs; r++) {
    const topic = out.runTopic(r);
    if (!byTopic.has(topic)) byTopic.set(topic, []);
    for (let i = out.runStart(r); i < out.runEnd(r); i++) {
      const key = out.keys?.[i] ?? null;
      const v = out.values[i];
      const w: Record<string, unknown> = {
        key: key === null ? null : toBase64(utf8(key)),
        value:
          v === null || v === undefined
            ? null
            : toBase64(v instanceof Uint8Array ? v : utf8(typeof v === "string" ? v : JSON.stringify(v))),
      };
      const partition = out.partitions?.[i];
      if (partition !== undefined) w.partition = partition;
      const headers: { name: string; value: string }[] = [];
      const h = out.headers?.[i];
      if (h) for (const name of Object.keys(h)) headers.push({ name, value: toBase64(utf8(h[name]!)) });
      const id = out.ids?.[i];
      if (id !== undefined) headers.push({ name: ID_HEADER, value: toBase64(utf8(id)) });
      if (headers.length > 0) w.headers = headers;
      const ts = out.timestamps[i]!;
      if (!Number.isNaN(ts)) w.timestamp = ts;
      byTopic.get(topic)!.push(JSON.parse(JSON.stringify(w)));
    }
  }
  return byTopic;
}

/** The bodies' records per topic, parsed, in order; and each body checked against the limit. */
function parsed(out: OutputBuffer, limit: number): Map<string, unknown[]> {
  const byTopic = new Map<string, unknown[]>();
  for (const b of produceBodies(out, limit)) {
    const records = (JSON.parse(b.json) as { records: { key: string | null; value: string | null }[] })
      .records;
    expect(records.length).toBe(b.count);
    expect(records.length).toBeGreaterThan(0);
    const bytes = records.reduce((n, r) => n + 64 + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0);
    if (records.length > 1) expect(bytes).toBeLessThanOrEqual(limit);
    byTopic.set(b.topic, [...(byTopic.get(b.topic) ?? []), ...records]);
  }
  return byTopic;
}

describe("produceBodies", () => {
  it("writes the records as JSON.stringify would: keys, values, partitions, headers, ids, timestamps", () => {
    const out = new OutputBuffer();
    out.push("a", null, { n: 1, s: 'é "q" \\ \n' }, 1000);
    out.setId(0, "in/0/5.0");
    // An own `__proto__` (as JSON.parse makes it): a header name like any other.
    out.push("a", "k€y", "plain text", 1001, JSON.parse('{"__proto__":"p","x-y":"ü"}'));
    out.setId(1, "in/0/5.1");
    out.add({ topic: "b", key: "k", value: new Uint8Array([0, 255, 128]), partition: 2 });
    out.push("a", null, null, 1002);
    const bodies = produceBodies(out, 1 << 20);
    expect(bodies.map((b) => [b.topic, b.count])).toEqual([
      ["a", 3],
      ["b", 1],
    ]);
    expect(parsed(out, 1 << 20)).toEqual(reference(out));
    const [a] = bodies;
    const first = (JSON.parse(a!.json) as { records: { value: string; headers: { value: string }[] }[] })
      .records[0]!;
    expect(JSON.parse(text(first.value))).toEqual({ n: 1, s: 'é "q" \\ \n' });
    expect(first.headers.map((h) => text(h.value))).toEqual(["in/0/5.0"]);
    const second = (JSON.parse(a!.json) as { records: { headers: { name: string; value: string }[] }[] })
      .records[1]!;
    expect(second.headers.map((h) => [h.name, text(h.value)])).toEqual([
      ["__proto__", "p"],
      ["x-y", "ü"],
      [ID_HEADER, "in/0/5.1"],
    ]);
  });

  it("splits a topic's records into bodies of at most `limit` bytes, in order, across runs", () => {
    const out = new OutputBuffer();
    for (let i = 0; i < 50; i++) {
      out.push(i % 10 < 7 ? "t" : "u", `k${i}`, { i, pad: "x".repeat(i) }, 1000 + i);
      out.setId(out.length - 1, `src/0/${i}.0`);
    }
    const bodies = produceBodies(out, 400);
    expect(bodies.length).toBeGreaterThan(5);
    expect(parsed(out, 400)).toEqual(reference(out));
  });

  it("matches the reference on any buffer (property)", () => {
    const header = fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 3 });
    const record = fc.record({
      topic: fc.constantFrom("t1", "t2", "t3"),
      key: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
      value: fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.uint8Array({ maxLength: 10 }),
        fc.record({ a: fc.integer(), b: fc.string({ maxLength: 6 }) }),
        fc.constant(null),
      ),
      timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(Number.NaN)),
      headers: fc.option(header, { nil: undefined }),
      partition: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
      id: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), fc.integer({ min: 1, max: 600 }), (records, limit) => {
        const out = new OutputBuffer();
        for (const r of records) {
          out.add({
            topic: r.topic,
            key: r.key,
            value: r.value,
            ...(Number.isNaN(r.timestamp) ? {} : { timestamp: r.timestamp }),
            ...(r.headers ? { headers: r.headers } : {}),
            ...(r.partition === undefined ? {} : { partition: r.partition }),
          });
          if (r.id !== undefined) out.setId(out.length - 1, r.id);
        }
        expect(parsed(out, limit)).toEqual(reference(out));
      }),
      { numRuns: 300 },
    );
  });
});

describe("Base64Slab", () => {
  it("decodes every value into one buffer, a separate view each, as fromBase64 does", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), (values) => {
        const texts = values.map(toBase64);
        const slab = new Base64Slab(texts);
        const views = texts.map((t) => slab.decode(t));
        views.forEach((v, i) => {
          expect([...v]).toEqual([...values[i]!]);
          expect([...v]).toEqual([...fromBase64(texts[i]!)]);
        });
        // One buffer, views side by side (writing one leaves the others as they are).
        if (views.length > 1) expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
        views.forEach((v, i) => {
          v.fill(i);
        });
        views.forEach((v, i) => {
          expect(v.every((b) => b === i)).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("takes text without padding, and values it was not sized for (a buffer of their own)", () => {
    const slab = new Base64Slab(["YQ", null, undefined]);
    expect(fromUtf8(slab.decode("YQ"))).toBe("a");
    expect(fromUtf8(slab.decode(toBase64(utf8("é€ beyond the room it has"))))).toBe(
      "é€ beyond the room it has",
    );
    expect(() => slab.decode("not base64!")).toThrow();
  });
});
