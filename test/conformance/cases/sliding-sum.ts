// Sliding windows (30 s every 10 s) summing amounts per account on one partition: a record late
// for some of its windows but not all, a record late for all of them (dropped, counted late: no
// side output), and malformed records.
import { Pipeline, sliding, sum } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, recorder } from "../case.js";

interface Payment {
  account: string;
  amount: number;
  ts: number;
}

/** [seconds, account, amount] in partition order; maxOutOfOrderness 1 s, no allowed lateness. */
const PAYMENTS: [number, string, number][] = [
  [1, "acc-1", 10],
  [2, "acc-2", 5],
  [4, "acc-1", 7],
  [3.5, "acc-3", 1], // out of order, within the bound
  [9, "acc-2", 20],
  [12, "acc-1", 3], // watermark 10.999: windows ending at 10 s fire
  [11.5, "acc-3", 2.5],
  [15, "acc-2", 4],
  [21, "acc-1", 8], // watermark 19.999: windows ending at 20 s fire
  [8, "acc-2", 50], // late for [-20, 10) and [-10, 20), on time for [0, 30)
  [25, "acc-3", 6],
  [33, "acc-1", 1], // watermark 31.999: [0, 30) fires
  [5, "acc-2", 9], // late for every window it belongs to: dropped, counted late
  [40, "acc-3", 2],
  [39.2, "acc-2", 3],
  [52, "acc-1", 10], // watermark 50.999: [10, 40) and [20, 50) fire
  [51, "acc-2", 0.25],
];

export const slidingSum: ConformanceCase = {
  name: "sliding-sum",
  about: "sliding(30 s, 10 s) sum per account, a record late for some of its windows, one late for all",
  sources: { payments: 1 },
  outputs: ["spend-30s", "dlq"],
  deadLetterTopic: "dlq",
  tasks: ["shared", "per-partition"],
  planted: { late: 1, deadLettered: 2 },

  pipeline(env: CaseEnv) {
    return Pipeline.source<Payment>(env.topic("payments"), {
      timestamp: (p) => p.ts,
      watermark: { maxOutOfOrderness: 1_000 },
    })
      .keyBy((p) => p.account)
      .window(sliding(30_000, 10_000))
      .aggregate(sum((p: Payment) => p.amount))
      .to(env.topic("spend-30s"));
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "payments", 1, out);
    for (const [i, [s, account, amount]] of PAYMENTS.entries()) {
      const ts = r.ms(s);
      r.add(account, { account, amount, ts }, { timestamp: ts });
      if (i === 6) r.add("acc-1", '{"account":"acc-1","amount":'); // cut off
      if (i === 13) r.add("acc-3", { account: "acc-3", amount: 1, ts: -5 }); // negative time
    }
    return out;
  },
};
