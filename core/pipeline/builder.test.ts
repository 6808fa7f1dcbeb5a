import { describe, expect, it } from "vitest";
import { PipelineError } from "../errors.js";
import { count, sum } from "../operators/aggregators.js";
import { compile } from "../runtime/compile.js";
import { session, sliding, tumbling } from "../time/windows.js";
import { Pipeline } from "./builder.js";
import { outputTag } from "./plan.js";

interface Click {
  userId: string;
  kind: "click" | "view";
  ts: number;
  amount: number;
}

const clicks = () => Pipeline.source<Click>("clicks", { timestamp: (c) => c.ts });

function errorOf(f: () => unknown): PipelineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineError);
    return e as PipelineError;
  }
  throw new Error("expected a PipelineError");
}

describe("pipeline builder", () => {
  it("compiles a typed pipeline to a plan with stable ids", () => {
    const build = () =>
      clicks()
        .filter((c) => c.kind === "click")
        .keyBy((c) => c.userId)
        .window(tumbling(60_000), { allowedLateness: 1000, lateTo: "late" })
        .aggregate({ n: count(), spent: sum((c) => c.amount) })
        .map((r) => ({ user: r.key, n: r.value.n, spent: r.value.spent, end: r.end }))
        .to("out");
    const a = compile(build());
    const b = compile(build());
    expect([...a.id.values()]).toEqual([
      "source:clicks",
      "1:filter",
      "2:keyBy",
      "window tumbling(60000)@clicks",
      "4:map",
      "5:sink",
    ]);
    expect([...b.id.values()]).toEqual([...a.id.values()]);
    expect(a.outputs).toEqual(["late", "out"]);
  });

  it("derives stateful ids that adding or removing stateless steps does not move; uid() names a step", () => {
    const stateful = (p: ReturnType<typeof compile>) =>
      [...p.id].filter(([n]) => !["map", "filter", "flatMap", "keyBy", "sink", "union"].includes(n.kind));
    const plain = compile(
      clicks()
        .keyBy((c) => c.userId)
        .window(tumbling(1000))
        .aggregate(count())
        .keyBy((r) => r.key)
        .process({ onRecord() {} })
        .to("out"),
    );
    const more = compile(
      clicks()
        .map((c) => c)
        .filter((c) => c.ts >= 0)
        .keyBy((c) => c.userId)
        .window(tumbling(1000))
        .aggregate(count())
        .map((r) => r)
        .keyBy((r) => r.key)
        .process({ onRecord() {} })
        .to("out"),
    );
    expect(stateful(plain).map(([, id]) => id)).toEqual([
      "source:clicks",
      "window tumbling(1000)@clicks",
      "process@clicks",
    ]);
    expect(stateful(more).map(([, id]) => id)).toEqual(stateful(plain).map(([, id]) => id));
    // Two steps of one kind on the same topics are numbered in plan order.
    const keyed = clicks().keyBy((c) => c.userId);
    const twice = compile(Pipeline.all(keyed.reduce((a) => a).to("a"), keyed.reduce((a) => a).to("b")));
    expect(stateful(twice).map(([, id]) => id)).toEqual([
      "source:clicks",
      "rolling@clicks",
      "rolling@clicks#1",
    ]);
    const named = compile(keyed.window(tumbling(5)).aggregate(count()).uid("per-user").to("c"));
    expect(stateful(named).map(([, id]) => id)).toEqual(["source:clicks", "per-user"]);
    const e = errorOf(() =>
      compile(
        Pipeline.all(
          keyed
            .reduce((a) => a)
            .uid("x")
            .to("a"),
          keyed.aggregate(count()).uid("x").to("b"),
        ),
      ),
    );
    expect(e.message).toMatch(
      /^Invalid pipeline at step 3 \(aggregate\): uid "x" is already the id of step 3 \(reduce\)/,
    );
    expect(errorOf(() => keyed.reduce((a) => a).uid("")).message).toMatch(/uid must be a non-empty string/);
  });

  it("keeps types flowing: a wrong field is a compile error", () => {
    // Checked by the compiler (npm test typechecks); never called.
    const typeOnly = () => {
      const s = clicks().map((c) => ({ id: c.userId }));
      // @ts-expect-error `userId` no longer exists after the map
      s.map((x) => x.userId);
      // @ts-expect-error a window needs keyBy first
      clicks().window(tumbling(1000));
      const byUser = clicks().keyBy((c) => c.userId);
      const byTime = clicks().keyBy((c) => c.ts);
      // @ts-expect-error both sides must have the same key type
      byUser.join(byTime, { between: [0, 1] }, (a, b) => [a, b]);
      clicks()
        .keyBy((c) => c.userId)
        .window(tumbling(10))
        .aggregate(count())
        // @ts-expect-error a window result's value is a number here
        .map((r) => r.value.length);
    };
    expect(typeof typeOnly).toBe("function");
  });

  it("names the step when a window needs a key", () => {
    const e = errorOf(() => (clicks().filter((c) => c.ts > 0) as any).window(tumbling(1000)));
    expect(e.message).toBe(
      "Invalid pipeline at step 3 (window): window() needs a keyed stream: call keyBy(...) before window(...)",
    );
    expect(e.step).toBe("step 3 (window)");
  });

  it.each([
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .window(tumbling(-5)),
      /step 3 \(window tumbling\(-5\)\): window size must be a positive/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .window(sliding(10, 0)),
      /window slide must be a positive/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .window(session(Number.NaN)),
      /session gap must be a positive/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .window(tumbling(10), { allowedLateness: -1 }),
      /allowedLateness must be a non-negative/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .window(tumbling(10), { lateTo: "no spaces" }),
      /step 3 .*may only contain/,
    ],
    [() => clicks().to("bad/topic"), /step 2 \(to "bad\/topic"\): topic name "bad\/topic" may only contain/],
    [() => clicks().to(""), /non-empty/],
    [() => clicks().to("x".repeat(250)), /longer than 249/],
    [() => clicks().to(".."), /not allowed/],
    [() => Pipeline.source("bad topic"), /step 1 \(source "bad topic"\)/],
    [
      () => Pipeline.source("t", { watermark: { maxOutOfOrderness: -1 } }),
      /maxOutOfOrderness must be a non-negative/,
    ],
    [() => clicks().map(undefined as any), /step 2 \(map\): expected a function, got undefined/],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .aggregate({} as any),
      /at least one aggregator/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .aggregate({ n: 5 } as any),
      /"n" is not an aggregator/,
    ],
    [
      () =>
        clicks()
          .keyBy((c) => c.userId)
          .process({} as any),
      /onRecord to be a function/,
    ],
  ])("rejects invalid definitions at build time (%#)", (build, message) => {
    expect(errorOf(build).message).toMatch(message);
  });

  it("rejects joins of unkeyed streams and bad join options, naming the step", () => {
    const left = clicks().keyBy((c) => c.userId);
    expect(errorOf(() => left.join(clicks() as any, { between: [0, 1] }, (a, b) => [a, b])).message).toMatch(
      /step 3 \(join\): join\(\) needs two keyed streams/,
    );
    expect(
      errorOf(() =>
        left.join(
          clicks().keyBy((c) => c.userId),
          { between: [5, 1] },
          (a) => a,
        ),
      ).message,
    ).toMatch(/lower <= upper/);
    expect(
      errorOf(() =>
        left.join(
          clicks().keyBy((c) => c.userId),
          { window: session(5) },
          (a) => a,
        ),
      ).message,
    ).toMatch(/not sessions/);
    expect(
      errorOf(() =>
        left.join(
          clicks().keyBy((c) => c.userId),
          {} as any,
          (a) => a,
        ),
      ).message,
    ).toMatch(/join options must be/);
  });

  it("rejects a pipeline without a sink", () => {
    expect(() => compile({} as any)).toThrow(/expected a pipeline/);
    expect(() => compile(Pipeline.all())).toThrow(/no sink/);
  });

  it("shares upstream steps between sinks of Pipeline.all", () => {
    const keyed = clicks().keyBy((c) => c.userId);
    const p = Pipeline.all(
      keyed.window(tumbling(10)).aggregate(count()).to("a"),
      keyed.reduce((x) => x).to("b"),
    );
    const plan = compile(p);
    expect(plan.sources).toHaveLength(1);
    expect(plan.outputs).toEqual(["a", "b"]);
  });

  it("side outputs are typed by their tag", () => {
    const tag = outputTag<{ why: string }>("odd");
    const processed = clicks()
      .keyBy((c) => c.userId)
      .process<Click>({
        onRecord(c, ctx) {
          if (c.amount < 0) ctx.output(tag, { why: "negative" });
          else ctx.emit(c);
        },
      });
    const side = processed.sideOutput(tag).map((x) => x.why);
    expect(compile(Pipeline.all(processed.to("ok"), side.to("odd"))).outputs).toEqual(["ok", "odd"]);
  });
});
