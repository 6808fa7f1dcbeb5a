// Stateless steps: filter, map and flatMap from one source to two sinks, over three partitions,
// with malformed records of every kind a source rejects.
import { Pipeline } from "rivulet";
import { type CaseEnv, type ConformanceCase, type InputRecord, recorder } from "../case.js";

interface Click {
  user: string;
  kind: "click" | "view";
  page: string;
  tags: string[];
  ts: number;
}

const USERS = ["ada", "bob", "cyd", "dee", "eve", "lea"];
const PAGES = ["/", "/pricing", "/docs", "/blog"];

export const filterMap: ConformanceCase = {
  name: "filter-map",
  about: "filter, map and flatMap to two sinks; invalid JSON, a tombstone, missing and negative timestamps",
  sources: { clicks: 3 },
  outputs: ["clicked", "clicked-tags", "dlq"],
  deadLetterTopic: "dlq",
  tasks: ["shared", "per-partition"],
  planted: { late: 0, deadLettered: 4 },

  pipeline(env: CaseEnv) {
    const clicks = Pipeline.source<Click>(env.topic("clicks"), {
      timestamp: (c) => c.ts,
      watermark: { maxOutOfOrderness: 1_000 },
    }).filter((c) => c.kind === "click");
    return Pipeline.all(
      clicks
        .map((c) => ({ user: c.user, page: c.page.toUpperCase(), ts: c.ts, tagCount: c.tags.length }))
        .to(env.topic("clicked"), { key: (c) => c.user }),
      clicks
        .flatMap((c) => c.tags.map((tag, i) => ({ user: c.user, tag, i, ts: c.ts })))
        .to(env.topic("clicked-tags"), { key: (t) => `${t.user}/${t.tag}` }),
    );
  },

  input(env: CaseEnv) {
    const out: InputRecord[] = [];
    const r = recorder(env, "clicks", 3, out);
    // 48 events, a user every 0.7 s of event time, some out of order, a click for 2 in 3.
    for (let i = 0; i < 48; i++) {
      const user = USERS[i % USERS.length]!;
      const seconds = i * 0.7 - (i % 5 === 3 ? 1.9 : 0);
      const ts = r.ms(seconds);
      const value: Click = {
        user,
        kind: i % 3 === 2 ? "view" : "click",
        page: PAGES[(i * 7) % PAGES.length]!,
        tags: i % 4 === 0 ? [] : ["a", "b", "c"].slice(0, i % 4),
        ts,
      };
      r.add(user, value, i === 10 ? { timestamp: ts, headers: { trace: "t-10" } } : { timestamp: ts });
      // Malformed records among them; the dead-letter topic keeps their key, value and headers.
      if (i === 12) r.add("bob", "{not json", { headers: { trace: "t-12" } });
      if (i === 20) r.add("cyd", null); // a tombstone: no value to read a timestamp from
      if (i === 30) r.add("dee", { user: "dee", kind: "click", page: "/", tags: [] }); // no ts
      if (i === 40) r.add("eve", { user: "eve", kind: "click", page: "/", tags: [], ts: -1_000 });
    }
    return out;
  },
};
