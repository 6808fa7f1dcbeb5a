import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { FetchBuffer, tpKey } from "./fetch-buffer.js";

const msg = (offset: number, value = "vvvv"): KafkaMessage =>
  ({
    offset: String(offset),
    key: null,
    value: Buffer.from(value),
    timestamp: "0",
    attributes: 0,
    headers: {},
  }) as KafkaMessage;
const batch = (partition: number, offsets: number[], next = offsets.at(-1)! + 1) => ({
  topic: "t",
  partition,
  messages: offsets.map((o) => msg(o)),
  next,
});
const offsetsOf = (buf: FetchBuffer, maxBytes = Infinity) =>
  buf.take(maxBytes, (tp, m) => [tp.partition, Number(m.offset)]);

describe("FetchBuffer", () => {
  it("returns records oldest first within max_bytes (at least one), and moves positions", () => {
    const buf = new FetchBuffer();
    buf.add(batch(0, [5, 6, 7]));
    expect(buf.positions.get(tpKey("t", 0))).toBe(5);
    expect(offsetsOf(buf, 9)).toEqual([
      [0, 5],
      [0, 6],
    ]);
    expect(buf.positions.get(tpKey("t", 0))).toBe(7);
    expect(offsetsOf(buf, 1)).toEqual([[0, 7]]);
    expect([buf.count, buf.bytes]).toEqual([0, 0]);
  });

  it("drops records below what it holds or returned, so a batch never repeats one", () => {
    const buf = new FetchBuffer();
    buf.add(batch(0, [0, 1, 2]));
    buf.add(batch(0, [1, 2, 3]));
    expect(offsetsOf(buf, 8)).toEqual([
      [0, 0],
      [0, 1],
    ]);
    buf.add(batch(0, [0, 1, 2, 3, 4]));
    expect(offsetsOf(buf)).toEqual([
      [0, 2],
      [0, 3],
      [0, 4],
    ]);
  });

  it("a seek drops what the partition held and starts from the new position, backwards too", () => {
    const buf = new FetchBuffer();
    buf.add(batch(0, [0, 1, 2]));
    buf.add(batch(1, [0]));
    offsetsOf(buf);
    buf.add(batch(0, [3, 4]));
    buf.seek("t", 0, 1);
    expect(buf.count).toBe(0);
    expect(buf.positions.get(tpKey("t", 0))).toBe(1);
    buf.add(batch(0, [1, 2, 3]));
    expect(offsetsOf(buf)).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
    ]);
  });

  it("a record that cannot be converted stays first in line; those before it are returned", () => {
    const buf = new FetchBuffer();
    buf.add(batch(0, [0, 1, 2]));
    const convert = (_: unknown, m: KafkaMessage) => {
      if (m.offset === "1") throw new Error("not JSON");
      return Number(m.offset);
    };
    expect(buf.take(Infinity, convert)).toEqual([0]);
    expect(() => buf.take(Infinity, convert)).toThrow("not JSON");
    buf.seek("t", 0, 2);
    buf.add(batch(0, [2]));
    expect(buf.take(Infinity, convert)).toEqual([2]);
  });

  it("retain forgets other partitions' records and positions", () => {
    const buf = new FetchBuffer();
    buf.add(batch(0, [0]));
    buf.add(batch(1, [0, 1]));
    buf.retain(new Set([tpKey("t", 1)]));
    expect([...buf.positions.keys()]).toEqual([tpKey("t", 1)]);
    expect(offsetsOf(buf)).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });
});
