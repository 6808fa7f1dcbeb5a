// A keyed process function with list and value state, event-time timers (set, reset, deleted,
// one set behind the watermark) and a side output, per partition. No processing-time timers:
// they would follow the wall clock, which no two runs share.
import { listState, outputTag, Pipeline, valueState } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, onPartition, recorder } from "../case.js";

interface Attempt {
  user: string;
  ok: boolean;
  ts: number;
}

type Outcome =
  | { event: "login"; user: string; failedBefore: number; at: number }
  | { event: "gave-up"; user: string; failures: number[]; at: number };

interface Lockout {
  user: string;
  failures: number;
  at: number;
}

const BOB = onPartition("bob", 2, 0);
const NED = onPartition("ned", 2, 0);
const ADA = onPartition("ada", 2, 1);
const KIM = onPartition("kim", 2, 1);

/** [seconds, user, ok] per partition, in order; maxOutOfOrderness 1 s. */
const ATTEMPTS: [number, string, boolean][][] = [
  [
    [1, BOB, false], // bob: gives up at 11 s unless he tries again
    [2, NED, true],
    [3, BOB, false], // the timer moves to 13 s
    [2.5, BOB, false], // out of order; the third failure: a lockout; the timer moves to 12.5 s
    [5, NED, false],
    [6, BOB, true], // logs in: timer deleted
    [9, NED, false],
    [14, BOB, false],
    [20.5, NED, true], // the watermark passes ned's timer (19 s)
    [12, NED, false], // behind the watermark: its timer (22 s) fires at the next advance
    [25, BOB, false],
    [30, NED, false],
    [31, BOB, false],
    [32, BOB, false], // bob's third and fourth failures since 14 s
  ],
  [
    [0.5, ADA, false],
    [1.5, KIM, false],
    [2, ADA, false],
    [4, KIM, true],
    [12.6, ADA, false], // ada's third failure: a lockout
    [13, KIM, false],
    [35, KIM, true], // before the watermark it brings: kim's timer (23 s) goes, ada's (22.6 s) fires
    [36, ADA, true],
  ],
];

export const processTimers: ConformanceCase = {
  name: "process-timers",
  about:
    "keyed process function: list/value state, event-time timers set, reset, deleted and late, a side output",
  sources: { attempts: 2 },
  outputs: ["login-outcomes", "lockouts", "dlq"],
  deadLetterTopic: "dlq",
  tasks: ["per-partition"],
  planted: { late: 0, deadLettered: 1 },

  pipeline(env: CaseEnv) {
    const failures = listState<number>("failures");
    const due = valueState<number>("due");
    const lockouts = outputTag<Lockout>("lockouts");
    const outcomes = Pipeline.source<Attempt>(env.topic("attempts"), {
      timestamp: (a) => a.ts,
      watermark: { maxOutOfOrderness: 1_000 },
    })
      .keyBy((a) => a.user)
      .process<Outcome>({
        onRecord(a, ctx) {
          const f = ctx.state(failures);
          const d = ctx.state(due);
          const old = d.get();
          if (old !== undefined) ctx.timers.deleteEventTime(old);
          if (a.ok) {
            ctx.emit({ event: "login", user: ctx.key, failedBefore: f.get().length, at: a.ts });
            f.clear();
            d.clear();
            return;
          }
          f.add(a.ts);
          if (f.get().length === 3) ctx.output(lockouts, { user: ctx.key, failures: 3, at: a.ts });
          ctx.timers.eventTime(a.ts + 10_000);
          d.set(a.ts + 10_000);
        },
        onTimer(time, ctx) {
          ctx.emit({ event: "gave-up", user: ctx.key, failures: [...ctx.state(failures).get()], at: time });
          ctx.state(failures).clear();
          ctx.state(due).clear();
        },
      });
    return Pipeline.all(
      outcomes.to(env.topic("login-outcomes")),
      outcomes.sideOutput(lockouts).to(env.topic("lockouts")),
    );
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "attempts", 2, out);
    for (const [p, part] of ATTEMPTS.entries())
      for (const [i, [s, user, ok]] of part.entries()) {
        const ts = r.ms(s);
        r.add(user, { user, ok, ts }, { timestamp: ts });
        if (p === 0 && i === 6) r.add(NED, [NED, false, ts]); // an array: no ts field
      }
    return out;
  },
};
