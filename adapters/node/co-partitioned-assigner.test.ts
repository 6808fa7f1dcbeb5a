import { AssignerProtocol } from "kafkajs";
import { describe, expect, it } from "vitest";
import { assignCoPartitioned, coPartitionedAssigner } from "./co-partitioned-assigner.js";

const counts = (entries: [string, number][]) => new Map(entries);

describe("assignCoPartitioned", () => {
  it("gives partition N of every topic to the same member, in contiguous ranges", () => {
    const out = assignCoPartitioned(
      [
        { memberId: "m-b", topics: ["left", "right"] },
        { memberId: "m-a", topics: ["left", "right"] },
      ],
      counts([
        ["left", 3],
        ["right", 3],
      ]),
    );
    expect(Object.fromEntries(out)).toEqual({
      "m-a": { left: [0, 1], right: [0, 1] },
      "m-b": { left: [2], right: [2] },
    });
  });

  it("covers every partition exactly once for any member count, members with nothing included", () => {
    for (let members = 1; members <= 8; members++)
      for (let partitions = 1; partitions <= 12; partitions++) {
        const ms = Array.from({ length: members }, (_, i) => ({ memberId: `m${i}`, topics: ["a", "b"] }));
        const out = assignCoPartitioned(
          ms,
          counts([
            ["a", partitions],
            ["b", partitions],
          ]),
        );
        expect(out.size).toBe(members);
        const owned = [...out.values()].flatMap((a) => a.a ?? []).sort((x, y) => x - y);
        expect(owned).toEqual(Array.from({ length: partitions }, (_, p) => p));
        for (const a of out.values()) expect(a.a ?? []).toEqual(a.b ?? []);
        const sizes = [...out.values()].map((a) => (a.a ?? []).length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
  });

  it("ranges a topic over the members that subscribe to it, by partition number", () => {
    const out = assignCoPartitioned(
      [
        { memberId: "a", topics: ["t", "u"] },
        { memberId: "b", topics: ["t"] },
      ],
      counts([
        ["t", 4],
        ["u", 2],
      ]),
    );
    expect(out.get("a")).toEqual({ t: [0, 1], u: [0, 1] });
    expect(out.get("b")).toEqual({ t: [2, 3] });
  });
});

describe("coPartitionedAssigner (KafkaJS protocol)", () => {
  it("reads the members' subscriptions and encodes their assignments", async () => {
    const cluster = {
      findTopicPartitionMetadata: (t: string) =>
        (t === "x" ? [0, 1, 2, 3] : [0, 1]).map((partitionId) => ({ partitionId })),
    };
    const assigner = coPartitionedAssigner({ cluster, groupId: "g", logger: undefined } as never);
    const metadata = (topics: string[]) => assigner.protocol({ topics }).metadata;
    const result = await assigner.assign({
      members: [
        { memberId: "one", memberMetadata: metadata(["x", "y"]) },
        { memberId: "two", memberMetadata: metadata(["x", "y"]) },
      ],
      topics: ["x", "y"],
    });
    const decoded = Object.fromEntries(
      result.map((r) => [
        r.memberId,
        AssignerProtocol.MemberAssignment.decode(r.memberAssignment)?.assignment,
      ]),
    );
    expect(decoded).toEqual({ one: { x: [0, 1], y: [0, 1] }, two: { x: [2, 3] } });
    expect(assigner.protocol({ topics: ["x"] }).name).toBe("RivuletCoPartitioned");
  });
});
