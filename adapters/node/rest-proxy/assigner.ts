/**
 * Manual assignment on KafkaJS, which always joins a group: every consumer instance of the
 * proxy joins its group with this assigner and says in its member metadata what it wants,
 * either exact partitions (v2's `POST .../assignments`) or topics (`POST .../subscription`).
 * The group's leader gives each assigning member exactly the partitions it asked for (as Java's
 * `assign()`, even when two ask for the same one), and spreads the remaining partitions of the
 * subscribed topics over the subscribing members, round robin in member id order.
 *
 * @example
 * kafka.consumer({ groupId, partitionAssigners: [requestedAssigner({ assign: { clicks: [0, 1] } })] });
 *
 * @module
 */
import type { Assignment, PartitionAssigner } from "kafkajs";
import { AssignerProtocol } from "../kafkajs.js";

/** The group protocol every instance of the proxy announces; members of one group must agree. */
export const REST_PROXY_PROTOCOL = "RivuletRestProxy";

/** What one member wants: exact partitions, or a share of its subscribed topics. */
export type MemberRequest = { assign: Assignment } | { subscribe: true };

export interface GroupMemberRequest {
  memberId: string;
  topics: readonly string[];
  request: MemberRequest;
}

/**
 * The assignment of a group: assigning members get what they asked for, subscribing members
 * share every other partition of their topics.
 *
 * @example
 * assignRequested(
 *   [{ memberId: "a", topics: ["t"], request: { assign: { t: [0] } } },
 *    { memberId: "b", topics: ["t"], request: { subscribe: true } }],
 *   new Map([["t", 3]]),
 * ); // Map { a => { t: [0] }, b => { t: [1, 2] } }
 */
export function assignRequested(
  members: readonly GroupMemberRequest[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Assignment> {
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  const out = new Map<string, Assignment>(sorted.map((m) => [m.memberId, {}]));
  const taken = new Set<string>();
  for (const m of sorted) {
    if (!("assign" in m.request)) continue;
    for (const [topic, partitions] of Object.entries(m.request.assign)) {
      out.get(m.memberId)![topic] = [...partitions];
      for (const p of partitions) taken.add(`${topic}\u0000${p}`);
    }
  }
  const subscribers = sorted.filter((m) => "subscribe" in m.request);
  for (const [topic, count] of partitionCounts) {
    const eligible = subscribers.filter((m) => m.topics.includes(topic));
    if (eligible.length === 0) continue;
    let next = 0;
    for (let p = 0; p < count; p++) {
      if (taken.has(`${topic}\u0000${p}`)) continue;
      const owner = eligible[next++ % eligible.length]!;
      (out.get(owner.memberId)![topic] ??= []).push(p);
    }
  }
  return out;
}

/** Reads a member's request from its metadata's user data (a member of another kind: nothing). */
function decodeRequest(userData: Buffer | undefined): MemberRequest | undefined {
  try {
    const parsed = JSON.parse(userData?.toString("utf8") ?? "") as MemberRequest;
    if ("subscribe" in parsed && parsed.subscribe === true) return { subscribe: true };
    if ("assign" in parsed && typeof parsed.assign === "object" && parsed.assign !== null) return parsed;
  } catch {}
  return undefined;
}

/** The KafkaJS assigner of a member that wants `request`. */
export function requestedAssigner(request: MemberRequest): PartitionAssigner {
  return ({ cluster }) => ({
    name: REST_PROXY_PROTOCOL,
    version: 0,
    async assign({ members, topics }) {
      const wants: GroupMemberRequest[] = [];
      for (const { memberId, memberMetadata } of members) {
        const meta = AssignerProtocol.MemberMetadata.decode(memberMetadata);
        const request = decodeRequest(meta?.userData);
        if (request) wants.push({ memberId, topics: meta?.topics ?? topics, request });
      }
      // The leader's metadata covers its own topics only: add those of the other members.
      const all = [...new Set(wants.flatMap((w) => w.topics))];
      await cluster.addMultipleTargetTopics(all).catch(() => {});
      const counts = new Map<string, number>();
      for (const topic of all) {
        try {
          const n = cluster.findTopicPartitionMetadata(topic).length;
          if (n > 0) counts.set(topic, n);
        } catch {
          // Unknown to the cluster's metadata (deleted meanwhile): nothing of it to share out.
        }
      }
      const assignment = assignRequested(wants, counts);
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: assignment.get(memberId) ?? {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: REST_PROXY_PROTOCOL,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: Buffer.from(JSON.stringify(request)),
        }),
      };
    },
  });
}
