// Tumbling windows with allowed lateness and a late side output, per partition: records out of
// order within the bound, late ones that update a fired window, too-late ones that go to the
// side output, and malformed ones (invalid JSON, no timestamp, beyond maxFutureSkew, a record on
// the wrong partition for its key).
import { count, max, Pipeline, tumbling } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, onPartition, recorder } from "../case.js";

interface Click {
  user: string;
  page: string;
  ts: number;
}

// Keys on the partition Kafka's partitioner gives them (of 2).
const BOB = onPartition("bob", 2, 0);
const DEE = onPartition("dee", 2, 0);
const ADA = onPartition("ada", 2, 1);
const CYD = onPartition("cyd", 2, 1);
const KIM = onPartition("kim", 2, 1);

/**
 * [seconds, user] in each partition's order. maxOutOfOrderness 2 s: the watermark is the
 * largest time seen - 2.001 s; windows of 10 s fire at end - 1 ms and take late records for 5 s
 * of watermark more.
 */
const PARTITION_0: [number, string][] = [
  [0.5, BOB],
  [1.2, DEE],
  [3.0, BOB],
  [2.1, DEE], // out of order, within the bound
  [6.4, BOB],
  [9.9, DEE],
  [8.7, BOB],
  [12.5, DEE], // watermark 10.499: [0, 10) fires
  [11.0, BOB],
  [9.5, BOB], // late, within the lateness: [0, 10) fires again for bob
  [15.2, DEE],
  [17.8, BOB],
  [21.0, DEE],
  [22.4, BOB], // watermark 20.399: [10, 20) fires, [0, 10) is dropped
  [8.0, DEE], // too late: side output
  [19.0, BOB], // late, within the lateness: [10, 20) fires again for bob
  [26.0, DEE],
  [27.5, BOB], // watermark 25.499: [10, 20) is dropped
  [31.0, DEE],
  [18.0, BOB], // too late: side output
  [33.3, DEE],
  [34.0, BOB],
];
const PARTITION_1: [number, string][] = [
  [0.2, ADA],
  [4.0, CYD],
  [5.5, KIM],
  [7.7, ADA],
  [6.0, CYD],
  [13.0, KIM], // watermark 10.999: [0, 10) fires
  [11.1, ADA],
  [9.0, CYD], // late, within the lateness
  [16.0, KIM],
  [19.9, ADA],
  [24.0, CYD], // watermark 21.999: [10, 20) fires, [0, 10) is dropped
  [5.0, KIM], // too late: side output
  [28.0, ADA],
  [23.5, CYD],
];

export const tumblingCount: ConformanceCase = {
  name: "tumbling-count",
  about: "tumbling(10 s) count per user with 5 s allowed lateness, late updates and a late side output",
  sources: { clicks: 2 },
  outputs: ["clicks-per-10s", "clicks-late", "dlq"],
  deadLetterTopic: "dlq",
  // Lateness depends on how far the other partition is when tasks are shared.
  tasks: ["per-partition"],
  planted: { late: 3, deadLettered: 4 },

  pipeline(env: CaseEnv) {
    return Pipeline.source<Click>(env.topic("clicks"), {
      timestamp: (c) => c.ts,
      watermark: { maxOutOfOrderness: 2_000, maxFutureSkew: 3_600_000 },
    })
      .keyBy((c) => c.user)
      .window(tumbling(10_000), { allowedLateness: 5_000, lateTo: env.topic("clicks-late") })
      .aggregate({ clicks: count(), lastSeen: max((c: Click) => c.ts) })
      .to(env.topic("clicks-per-10s"));
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "clicks", 2, out);
    const click = (seconds: number, user: string, i: number) => {
      const ts = r.ms(seconds);
      r.add(user, { user, page: `/p/${i % 4}`, ts }, { timestamp: ts });
    };
    for (const [i, [s, u]] of PARTITION_0.entries()) {
      click(s, u, i);
      if (i === 16) {
        r.add(BOB, "{not json");
        r.add(DEE, { user: DEE, page: "/p/0" }); // no timestamp
        // Two hours ahead of the watermark: dead-lettered rather than moving it.
        r.add(BOB, { user: BOB, page: "/p/1", ts: r.ms(26 + 7_200) });
        // Not keyed by its user, whose key belongs to partition 1.
        r.add(null, { user: ADA, page: "/p/2", ts: r.ms(26.5) }, { partition: 0, timestamp: r.ms(26.5) });
      }
    }
    for (const [i, [s, u]] of PARTITION_1.entries()) click(s, u, i);
    return out;
  },
};
