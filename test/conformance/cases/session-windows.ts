// Session windows (gap 5 s) with 3 s allowed lateness and a late side output, per partition:
// sessions that merge when a record bridges them (one of them already fired), late records that
// extend a fired session, and too-late ones.
import { count, max, min, Pipeline, session } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, onPartition, recorder } from "../case.js";

interface Visit {
  user: string;
  page: string;
  ts: number;
}

const BOB = onPartition("bob", 2, 0);
const NED = onPartition("ned", 2, 0);
const ADA = onPartition("ada", 2, 1);
const KIM = onPartition("kim", 2, 1);

/**
 * [seconds, user] in each partition's order. maxOutOfOrderness 1 s: the watermark is the
 * largest time seen - 1.001 s. A record at t opens the session [t, t + 5 s); touching sessions merge.
 */
const PARTITION_0: [number, string][] = [
  [0, BOB],
  [2, BOB],
  [1, NED],
  [4.5, BOB], // bob [0, 9.5)
  [3, NED], // ned [1, 8)
  [12, BOB], // watermark 10.999: bob [0, 9.5) and ned [1, 8) fire
  [9, NED], // ned [9, 14): a new session
  [7, BOB], // within the lateness: bridges bob [0, 9.5) and [12, 17) into [0, 17)
  [20, BOB],
  [22, NED], // watermark 20.999: bob [0, 17) and ned [9, 14) fire
  [1, BOB], // too late: side output
  [30, NED], // watermark 28.999: bob [20, 25) and ned [22, 27) fire
  [27, BOB],
  [29, BOB],
  [33, NED],
];
const PARTITION_1: [number, string][] = [
  [0.5, ADA],
  [2, KIM],
  [3, ADA], // ada [0.5, 8)
  [8, KIM],
  [9, ADA], // ada [9, 14): 8 s is not 9 s, no merge
  [6, KIM], // merges kim [2, 7) and [8, 13) into [2, 13)
  [15, ADA],
  [19, KIM], // watermark 17.999: ada [0.5, 8), [9, 14) fired by now, dropped at 16.999
  [8.2, ADA], // would touch the dropped ada [9, 14): too late, side output
  [25, ADA],
  [24, KIM],
  [24.5, ADA],
];

export const sessionWindows: ConformanceCase = {
  name: "session-windows",
  about: "session(5 s) per user with 3 s allowed lateness: merges, a late bridge, too-late records",
  sources: { visits: 2 },
  outputs: ["visit-sessions", "visits-late", "dlq"],
  deadLetterTopic: "dlq",
  tasks: ["per-partition"],
  planted: { late: 2, deadLettered: 1 },

  pipeline(env: CaseEnv) {
    return Pipeline.source<Visit>(env.topic("visits"), {
      timestamp: (v) => v.ts,
      watermark: { maxOutOfOrderness: 1_000 },
    })
      .keyBy((v) => v.user)
      .window(session(5_000), { allowedLateness: 3_000, lateTo: env.topic("visits-late") })
      .aggregate({ visits: count(), first: min((v: Visit) => v.ts), last: max((v: Visit) => v.ts) })
      .to(env.topic("visit-sessions"));
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "visits", 2, out);
    const visit = (seconds: number, user: string, i: number) => {
      const ts = r.ms(seconds);
      r.add(user, { user, page: `/v/${i % 3}`, ts }, { timestamp: ts });
    };
    for (const [i, [s, u]] of PARTITION_0.entries()) {
      visit(s, u, i);
      if (i === 9) r.add(NED, { user: NED, page: "/v/0", ts: "22" }); // a string, not a time
    }
    for (const [i, [s, u]] of PARTITION_1.entries()) visit(s, u, i);
    return out;
  },
};
