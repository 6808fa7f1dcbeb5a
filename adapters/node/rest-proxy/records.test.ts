import { describe, expect, it } from "vitest";
import { produceRecords } from "./records.js";

describe("produce records: headers as KafkaJS takes them", () => {
  it("repeated names become arrays; __proto__ and constructor are names like any other", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const [r] = produceRecords(
      {
        records: [
          {
            value: b64("v"),
            headers: [
              { name: "rivulet.id", value: b64("t/0/1.0") },
              { name: "__proto__", value: b64("p") },
              { name: "constructor", value: b64("c") },
              { name: "dup", value: b64("1") },
              { name: "dup", value: b64("2") },
            ],
          },
        ],
      },
      "binary",
    );
    const h = r!.headers!;
    expect(Object.getPrototypeOf(h)).toBeNull();
    expect(Object.keys(h)).toEqual(["rivulet.id", "__proto__", "constructor", "dup"]);
    expect(String(h["rivulet.id"])).toBe("t/0/1.0");
    const proto = "__proto__";
    expect(String(h[proto])).toBe("p");
    expect((h.dup as Buffer[]).map(String)).toEqual(["1", "2"]);
    expect(({} as Record<string, unknown>).constructor).toBe(Object); // nothing leaked
    const [none, empty, nulls] = produceRecords(
      {
        records: [
          { value: b64("v") },
          { value: b64("v"), headers: [] },
          {
            value: null,
            headers: [
              { name: "n", value: null },
              { name: "n", value: b64("x") },
            ],
          },
        ],
      },
      "binary",
    );
    expect(none!.headers).toBeUndefined();
    expect(empty!.headers).toBeUndefined();
    expect(nulls!.headers!.n).toEqual([null, Buffer.from("x")]);
  });
});
