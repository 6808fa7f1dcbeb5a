// Rolling (unwindowed) keyed steps over three partitions: a reduce after a map, and an aggregate
// of several aggregators, updated on every record, whatever its event time. Keys that trip up
// plain objects and encodings: "__proto__", the empty string, non-ASCII.
import { avg, count, Pipeline, topN } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, onPartition, recorder } from "../case.js";

interface Reading {
  sensor: string;
  value: number;
  ts: number;
}

interface Totals {
  sensor: string;
  n: number;
  total: number;
  max: number;
  lastTs: number;
}

const SENSORS = [
  onPartition("__proto__", 3, 0),
  onPartition("", 3, 0),
  onPartition("zoë", 3, 0),
  onPartition("cyd", 3, 1),
  onPartition("gus", 3, 1),
  onPartition("max", 3, 2),
];

export const rollingReduce: ConformanceCase = {
  name: "rolling-reduce",
  about: "rolling reduce and rolling aggregate (count, avg, topN) per sensor; keys __proto__, '' and zoë",
  sources: { readings: 3 },
  outputs: ["sensor-totals", "sensor-stats", "dlq"],
  deadLetterTopic: "dlq",
  tasks: ["shared", "per-partition"],
  planted: { late: 0, deadLettered: 2 },

  pipeline(env: CaseEnv) {
    const readings = Pipeline.source<Reading>(env.topic("readings"), {
      timestamp: (r) => r.ts,
      watermark: { maxOutOfOrderness: 500 },
    });
    return Pipeline.all(
      readings
        .map((r): Totals => ({ sensor: r.sensor, n: 1, total: r.value, max: r.value, lastTs: r.ts }))
        .keyBy((t) => t.sensor)
        .reduce((a, b) => ({
          sensor: a.sensor,
          n: a.n + b.n,
          total: a.total + b.total,
          max: Math.max(a.max, b.max),
          lastTs: b.lastTs,
        }))
        .to(env.topic("sensor-totals")),
      readings
        .keyBy((r) => r.sensor)
        .aggregate({
          n: count(),
          mean: avg((r: Reading) => r.value),
          top: topN(2, (r: Reading) => r.value),
        })
        .to(env.topic("sensor-stats")),
    );
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "readings", 3, out);
    for (let i = 0; i < 60; i++) {
      const sensor = SENSORS[(i * 5) % SENSORS.length]!;
      // Every 7th far behind (rolling steps take it all the same), others a little out of order.
      const seconds = i % 7 === 6 ? i + 10 : i + 40 - (i % 3) * 0.4;
      const ts = r.ms(seconds);
      r.add(sensor, { sensor, value: ((i * 37) % 23) - 5 + (i % 4) * 0.25, ts }, { timestamp: ts });
      if (i === 25) r.add("gus", "not json at all");
      if (i === 50) r.add("max", { sensor: "max", value: 1, ts: null }); // no time
    }
    return out;
  },
};
