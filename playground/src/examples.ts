// The examples gallery: each runs as it is, on its topics, fed by its generators. Their code is
// what the editor shows; the tests run the same text in Chromium (the page) and in Node (the
// in-memory broker) and compare. No DOM, no Node.
import type { TaskMode } from "rivulet";
import { defaultGenerator, type GeneratorKind, type GeneratorSettings } from "./generators.js";

export interface Example {
  id: string;
  title: string;
  /** One sentence: what it shows. */
  summary: string;
  code: string;
  /** Source topics and their partition counts. */
  topics: Readonly<Record<string, number>>;
  generators: GeneratorSettings[];
  /**
   * How the job divides its work. `per-partition` where the input is keyed by the pipeline's
   * key (each partition's output then depends on its own order alone, late records included);
   * `shared` where records change key, as Flink does.
   */
  tasks: TaskMode;
}

const gen = (
  kind: GeneratorKind,
  topic: string,
  more: Partial<GeneratorSettings> = {},
): GeneratorSettings => ({
  ...defaultGenerator(kind, topic),
  ...more,
});

const CLICK = `interface Click {
  userId: string;
  kind: "click" | "view";
  page: string;
  ts: number; // event time, epoch ms
}`;

const READING = `interface Reading {
  sensorId: string;
  temperature: number;
  humidity: number;
  ts: number;
}`;

const NEXMARK_SOURCE = `const events = Pipeline.source<NexmarkEvent>("nexmark", {
  timestamp: (e) => e.timestamp,
  watermark: { maxOutOfOrderness: 4_000 },
});
const bids = events.filter((e) => e.kind === "bid").map((e) => (e as { bid: Bid }).bid);`;

export const EXAMPLES: readonly Example[] = [
  {
    id: "filter-map",
    title: "Filter and map",
    summary: "Stateless steps: keep the clicks, reshape them; malformed JSON goes to the dead letters.",
    tasks: "per-partition",
    topics: { clicks: 3 },
    generators: [gen("clickstream", "clicks", { malformedPct: 2 })],
    code: `// Filter and map: keep the clicks, drop the views, reshape what is left.
import { Pipeline } from "rivulet";

${CLICK}

export default Pipeline.source<Click>("clicks", { timestamp: (c) => c.ts })
  .filter((c) => c.kind === "click")
  .map((c) => ({ user: c.userId, page: c.page, at: new Date(c.ts).toISOString() }))
  .to("clicks-clean", { key: (c) => c.user });
`,
  },
  {
    id: "word-count",
    title: "Word count",
    summary: "flatMap lines into words, keyBy the word, a rolling count per word.",
    tasks: "shared",
    topics: { lines: 1 },
    generators: [gen("words", "lines", { rate: 10 })],
    code: `// Word count: every line split into words, each word counted as it comes (a rolling
// aggregate: one updated count per word and record).
import { count, Pipeline } from "rivulet";

interface Line {
  author: string;
  text: string;
  ts: number;
}

export default Pipeline.source<Line>("lines", { timestamp: (l) => l.ts })
  .flatMap((l) => l.text.split(" ").filter((w) => w.length > 3))
  .keyBy((word) => word)
  .aggregate(count())
  .to("word-counts");
`,
  },
  {
    id: "clicks-per-minute",
    title: "Clicks per minute",
    summary: "Tumbling event-time windows with allowed lateness, a late side output and dead letters.",
    tasks: "per-partition",
    topics: { clicks: 3 },
    generators: [
      gen("clickstream", "clicks", {
        rate: 100,
        outOfOrderMs: 3_000,
        latePct: 4,
        lateByMs: 40_000,
        malformedPct: 1,
      }),
    ],
    code: `// Clicks per user per minute, in event time. Clicks up to 5 s out of order are on time;
// a click up to 10 s after its window fired fires it again with the new count; later ones
// go to the "clicks-late" topic. Malformed JSON goes to the dead-letter topic.
import { count, Pipeline, tumbling } from "rivulet";

${CLICK}

export default Pipeline.source<Click>("clicks", {
  timestamp: (c) => c.ts,
  watermark: { maxOutOfOrderness: 5_000, idleTimeout: 10_000 },
})
  .filter((c) => c.kind === "click")
  .keyBy((c) => c.userId)
  .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: "clicks-late" })
  .aggregate(count())
  .to("clicks-per-minute");
`,
  },
  {
    id: "moving-average",
    title: "Moving average",
    summary: "Sliding windows (1 minute, every 15 s): average and peak temperature per sensor.",
    tasks: "per-partition",
    topics: { sensors: 2 },
    generators: [gen("iot", "sensors")],
    code: `// A moving average: per sensor, the last minute's average and peak temperature, every 15 s
// (sliding windows: each reading counts in four of them).
import { avg, count, max, Pipeline, sliding } from "rivulet";

${READING}

export default Pipeline.source<Reading>("sensors", {
  timestamp: (r) => r.ts,
  watermark: { maxOutOfOrderness: 3_000 },
})
  .keyBy((r) => r.sensorId)
  .window(sliding(60_000, 15_000))
  .aggregate({ avg: avg((r) => r.temperature), peak: max((r) => r.temperature), readings: count() })
  .to("temperature-1m");
`,
  },
  {
    id: "sessions",
    title: "User sessions",
    summary: "Session windows: a user's activity until 20 s of silence, merged as records arrive.",
    tasks: "per-partition",
    topics: { clicks: 3 },
    generators: [gen("clickstream", "clicks", { latePct: 3, lateByMs: 25_000 })],
    code: `// User sessions: a user's clicks and views until 20 s pass without any (session windows,
// merged as records arrive). Late records within 5 s of a closed session update it.
import { count, max, min, Pipeline, session } from "rivulet";

${CLICK}

export default Pipeline.source<Click>("clicks", {
  timestamp: (c) => c.ts,
  watermark: { maxOutOfOrderness: 5_000 },
})
  .keyBy((c) => c.userId)
  .window(session(20_000), { allowedLateness: 5_000, lateTo: "sessions-late" })
  .aggregate({ events: count(), first: min((c) => c.ts), last: max((c) => c.ts) })
  .to("user-sessions");
`,
  },
  {
    id: "interval-join",
    title: "Interval join",
    summary: "Each Nexmark auction with the bids made in its first 10 seconds.",
    tasks: "shared",
    topics: { nexmark: 2 },
    generators: [gen("nexmark", "nexmark")],
    code: `// An interval join: each auction with the bids made in its first 10 seconds
// (bid time in [auction time + 0, auction time + 10 s]).
import { Pipeline } from "rivulet";
import type { Auction, Bid, NexmarkEvent } from "rivulet/testing";

${NEXMARK_SOURCE}
const auctions = events.filter((e) => e.kind === "auction").map((e) => (e as { auction: Auction }).auction);

export default auctions
  .keyBy((a) => a.id)
  .join(bids.keyBy((b) => b.auction), { between: [0, 10_000] }, (a, b) => ({
    auction: a.id,
    item: a.itemName,
    bidder: b.bidder,
    price: b.price,
    afterMs: b.dateTime - a.dateTime,
  }))
  .to("early-bids");
`,
  },
  {
    id: "process-timers",
    title: "Process function with timers",
    summary:
      "Keyed state and event-time timers: an alert when a sensor goes quiet for 30 s, and when it is back.",
    tasks: "per-partition",
    topics: { sensors: 2 },
    generators: [gen("iot", "sensors")],
    code: `// A keyed process function with state and event-time timers: an alert when a sensor has
// sent nothing for 30 s of event time, another when it is back.
import { Pipeline, valueState } from "rivulet";

${READING}

interface Alert {
  sensorId: string;
  alert: "silent" | "back";
  since: number;
}

const lastSeen = valueState<number>("lastSeen");
const silent = valueState<boolean>("silent");

export default Pipeline.source<Reading>("sensors", {
  timestamp: (r) => r.ts,
  watermark: { maxOutOfOrderness: 3_000 },
})
  .keyBy((r) => r.sensorId)
  .process<Alert>({
    onRecord(r, ctx) {
      const last = ctx.state(lastSeen);
      const before = last.get();
      if (ctx.state(silent).get()) {
        ctx.state(silent).clear();
        ctx.emit({ sensorId: ctx.key, alert: "back", since: r.ts });
      }
      if (before === undefined || r.ts > before) {
        if (before !== undefined) ctx.timers.deleteEventTime(before + 30_000);
        last.set(r.ts);
        ctx.timers.eventTime(r.ts + 30_000);
      }
    },
    onTimer(t, ctx) {
      ctx.state(silent).set(true);
      ctx.emit({ sensorId: ctx.key, alert: "silent", since: t - 30_000 });
    },
  })
  .to("sensor-alerts");
`,
  },
  {
    id: "nexmark-q5",
    title: "Nexmark q5: hot items",
    summary: "Per sliding window (10 s every 2 s), the auctions with the most bids.",
    tasks: "shared",
    topics: { nexmark: 2 },
    generators: [gen("nexmark", "nexmark", { rate: 500 })],
    code: `// Nexmark q5, hot items: per sliding window (10 s, every 2 s) the auction(s) with the most
// bids. Bids counted per auction and window, then per window (keyed by its end) the largest,
// emitted by a timer once the watermark passes the window.
import { count, Pipeline, sliding, valueState } from "rivulet";
import type { Bid, NexmarkEvent } from "rivulet/testing";

${NEXMARK_SOURCE}

interface Best {
  bids: number;
  auctions: number[];
}
const best = valueState<Best>("best");

export default bids
  .keyBy((b) => b.auction)
  .window(sliding(10_000, 2_000))
  .aggregate(count())
  .keyBy((r) => r.end)
  .process<{ auction: number; bids: number; start: number; end: number }>({
    onRecord(r, ctx) {
      const s = ctx.state(best);
      const b = s.get();
      if (b === undefined) {
        s.set({ bids: r.value, auctions: [r.key] });
        ctx.timers.eventTime(r.end - 1);
      } else if (r.value > b.bids) s.set({ bids: r.value, auctions: [r.key] });
      else if (r.value === b.bids) s.set({ bids: b.bids, auctions: [...b.auctions, r.key] });
    },
    onTimer(t, ctx) {
      const b = ctx.state(best).get();
      if (b) for (const auction of b.auctions) ctx.emit({ auction, bids: b.bids, start: t + 1 - 10_000, end: t + 1 });
      ctx.state(best).clear();
    },
  })
  .to("hot-items");
`,
  },
  {
    id: "nexmark-q7",
    title: "Nexmark q7: highest bid",
    summary: "Per 10 s tumbling window, the highest bid (a windowed reduce).",
    tasks: "shared",
    topics: { nexmark: 2 },
    generators: [gen("nexmark", "nexmark", { rate: 500 })],
    code: `// Nexmark q7, highest bid: per 10 s tumbling window, the bid with the highest price. Every
// bid under one key (the window covers all of them); ties go to the earlier bid, then the
// lower auction and bidder, so every runtime gives the same answer.
import { Pipeline, tumbling } from "rivulet";
import type { Bid, NexmarkEvent } from "rivulet/testing";

${NEXMARK_SOURCE}

const higher = (a: Bid, b: Bid): Bid => {
  const d = b.price - a.price || a.dateTime - b.dateTime || a.auction - b.auction || a.bidder - b.bidder;
  return d > 0 ? b : a;
};

export default bids
  .keyBy(() => "all")
  .window(tumbling(10_000))
  .reduce(higher)
  .map((r) => ({ windowEnd: r.end, auction: r.value.auction, bidder: r.value.bidder, price: r.value.price }))
  .to("highest-bid");
`,
  },
];

export function exampleById(id: string): Example | undefined {
  return EXAMPLES.find((e) => e.id === id);
}
