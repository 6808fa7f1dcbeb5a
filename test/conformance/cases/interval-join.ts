// An interval join of two co-partitioned topics keyed by order id (per-partition tasks): a
// shipment pairs with its order when it comes 0 to 20 s after it (both bounds included).
// Orders with several shipments, none, shipments too late or before their order, and malformed
// records on both sides. No record is behind its own side's watermark, so what pairs never
// depends on how the two topics' polls interleave; each order's shipments come in time order,
// so neither does the order of each order's pairs.
import { Pipeline } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, onPartition, recorder } from "../case.js";

interface Order {
  id: string;
  customer: string;
  amount: number;
  ts: number;
}
interface Shipment {
  id: string;
  order: string;
  carrier: string;
  ts: number;
}

const on = (n: number, p: number) => onPartition(`order-${n}`, 2, p);

/** [seconds, order] per partition, in order; maxOutOfOrderness 2 s, never more than 1.5 s used. */
const ORDERS: [number, string][][] = [
  [
    [1, on(1, 0)],
    [3, on(4, 0)],
    [6, on(5, 0)],
    [5, on(9, 0)],
    [14, on(10, 0)],
    [29, on(14, 0)],
    [30, on(11, 0)],
  ],
  [
    [2, on(2, 1)],
    [4, on(3, 1)],
    [7, on(6, 1)],
    [9, on(7, 1)],
    [8.5, on(8, 1)],
    [25, on(12, 1)],
    [40, on(13, 1)],
  ],
];

/** [seconds, shipment id, order] per partition, in order. */
const SHIPMENTS: [number, string, string][][] = [
  [
    [4, "s1", on(1, 0)], // 3 s after its order
    [6.5, "s2", on(4, 0)],
    [10, "s3", on(1, 0)], // a second shipment of order-1
    [9, "s4", on(9, 0)],
    [15, "s5", on(5, 0)],
    [27, "s6", on(5, 0)], // 21 s after: no pair
    [26.5, "s7", on(10, 0)],
    [28.5, "s9", on(14, 0)], // before its order: no pair
    [31, "s8", on(11, 0)],
    [33, "s10", on(14, 0)],
    [49, "s11", on(11, 0)], // 19 s after: a second pair for order-11
  ],
  [
    [3, "s21", on(2, 1)],
    [5, "s22", on(3, 1)],
    [11, "s23", on(6, 1)],
    [10, "s24", on(7, 1)],
    [12, "s25", on(2, 1)],
    [26, "s27", on(12, 1)],
    [30, "s26", on(8, 1)], // 21.5 s after: no pair
    [44, "s28", on(13, 1)],
    [45, "s29", on(12, 1)], // exactly 20 s after: pairs (the bound is included)
  ],
];

export const intervalJoin: ConformanceCase = {
  name: "interval-join",
  about: "interval join [0, 20 s] of orders and shipments on co-partitioned topics, bounds included",
  sources: { orders: 2, shipments: 2 },
  outputs: ["order-shipments", "dlq"],
  deadLetterTopic: "dlq",
  // Per-partition, as on Kafka; shared tasks too: with no record behind its own side's
  // watermark, no pair depends on how far the other partitions are.
  tasks: ["per-partition", "shared"],
  planted: { late: 0, deadLettered: 2 },

  pipeline(env: CaseEnv) {
    const watermark = { maxOutOfOrderness: 2_000 };
    const orders = Pipeline.source<Order>(env.topic("orders"), { timestamp: (o) => o.ts, watermark }).keyBy(
      (o) => o.id,
    );
    const shipments = Pipeline.source<Shipment>(env.topic("shipments"), {
      timestamp: (s) => s.ts,
      watermark,
    }).keyBy((s) => s.order);
    return orders
      .join(shipments, { between: [0, 20_000] }, (o, s) => ({
        order: o.id,
        shipment: s.id,
        customer: o.customer,
        amount: o.amount,
        delay: s.ts - o.ts,
      }))
      .to(env.topic("order-shipments"), { key: (p) => p.order });
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const orders = recorder(env, "orders", 2, out);
    const shipments = recorder(env, "shipments", 2, out);
    for (const [p, part] of ORDERS.entries())
      for (const [i, [s, id]] of part.entries()) {
        const ts = orders.ms(s);
        orders.add(id, { id, customer: `c${(i + p) % 3}`, amount: 10 * (i + 1) + p, ts }, { timestamp: ts });
        if (p === 0 && i === 2) orders.add(on(4, 0), { id: on(4, 0), customer: "c0", amount: 1 }); // no ts
      }
    for (const [p, part] of SHIPMENTS.entries())
      for (const [i, [s, id, order]] of part.entries()) {
        const ts = shipments.ms(s);
        shipments.add(order, { id, order, carrier: i % 2 ? "post" : "van", ts }, { timestamp: ts });
        if (p === 1 && i === 3) shipments.add(on(3, 1), "{not json");
      }
    return out;
  },
};
