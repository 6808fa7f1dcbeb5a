import type { PartitionAssigner } from "kafkajs";
import { AssignerProtocol } from "./kafkajs.js";

/** The group protocol name every Rivulet member announces; members must agree on it. */
export const CO_PARTITIONED = "RivuletCoPartitioned";

export interface GroupMemberTopics {
  memberId: string;
  topics: readonly string[];
}

/**
 * Range assignment over partition numbers: partition N of every topic goes to the same member,
 * so co-partitioned topics (same key, same partition count) meet in one process, as Kafka
 * Streams requires for joins. Members are taken in memberId order; each gets a contiguous range
 * of partition numbers, the first `P % M` one more. A topic only some members subscribe to is
 * ranged over those members.
 *
 * @example
 * assignCoPartitioned([{ memberId: "a", topics: ["l", "r"] }, { memberId: "b", topics: ["l", "r"] }],
 *   new Map([["l", 3], ["r", 3]]));
 * // Map { a => { l: [0, 1], r: [0, 1] }, b => { l: [2], r: [2] } }
 */
export function assignCoPartitioned(
  members: readonly GroupMemberTopics[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Record<string, number[]>> {
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  const out = new Map<string, Record<string, number[]>>(sorted.map((m) => [m.memberId, {}]));
  let widest = 0;
  for (const n of partitionCounts.values()) widest = Math.max(widest, n);
  for (const [topic, count] of partitionCounts) {
    const eligible = sorted.filter((m) => m.topics.includes(topic));
    if (eligible.length === 0) continue;
    for (let p = 0; p < count; p++) {
      const owner = eligible[rangeOwner(p, widest, eligible.length)]!;
      const assignment = out.get(owner.memberId)!;
      (assignment[topic] ??= []).push(p);
    }
  }
  return out;
}

/** Which of `members` owns partition number `p` when `partitions` numbers are split into ranges. */
function rangeOwner(p: number, partitions: number, members: number): number {
  const per = Math.floor(partitions / members);
  const extra = partitions % members;
  const boundary = extra * (per + 1);
  return p < boundary ? Math.floor(p / (per + 1)) : extra + Math.floor((p - boundary) / per);
}

/**
 * The KafkaJS partition assigner that applies {@link assignCoPartitioned} on the group leader.
 *
 * @example
 * kafka.consumer({ groupId, partitionAssigners: [coPartitionedAssigner] });
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 0,
  async assign({ members, topics }) {
    const subscribed: GroupMemberTopics[] = members.map(({ memberId, memberMetadata }) => ({
      memberId,
      topics: AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics ?? topics,
    }));
    const counts = new Map<string, number>();
    for (const topic of new Set(subscribed.flatMap((m) => m.topics))) {
      let metadata: { partitionId: number }[] = [];
      try {
        metadata = cluster.findTopicPartitionMetadata(topic);
      } catch {
        // A topic only other members subscribe to, unknown to the leader's metadata: left unassigned.
      }
      if (metadata.length > 0) counts.set(topic, metadata.length);
    }
    return [...assignCoPartitioned(subscribed, counts)].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONED,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
