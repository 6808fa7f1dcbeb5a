// Clicks per user per minute (DESIGN.md's example), with its topic names as parameters so that one
// module serves the worker, its tests and other runtimes.
import { count, Pipeline, tumbling } from "rivulet";

export interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
}

export interface ClickTopics {
  clicks: string;
  perMinute: string;
  late: string;
}

export const DEFAULT_TOPICS: ClickTopics = {
  clicks: "clicks",
  perMinute: "clicks-per-minute",
  late: "clicks-late",
};

export function perMinute(topics: ClickTopics = DEFAULT_TOPICS): Pipeline {
  return Pipeline.source<Click>(topics.clicks, {
    timestamp: (c) => c.ts,
    watermark: { maxOutOfOrderness: 5_000 },
  })
    .filter((c) => c.kind === "click")
    .keyBy((c) => c.userId)
    .window(tumbling(60_000), { allowedLateness: 10_000, lateTo: topics.late })
    .aggregate(count())
    .uid("clicks-per-minute")
    .to(topics.perMinute);
}
