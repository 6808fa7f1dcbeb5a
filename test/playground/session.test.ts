// The playground's watchdog (playground/src/session.ts), its logic alone: a worker that stops
// answering is stopped, and what was in flight when it was stopped (rejected with JOB_STOPPED by
// `terminate`) does not replace the problem that stopped it. The handle is a stand-in; the real
// worker is driven in Chromium by test/playground/playground.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../playground/src/job.worker.ts?worker&url", () => ({ default: "job.worker.js" }));
vi.mock("rivulet/browser", () => ({ startWorker: vi.fn() }));

const { startWorker } = await import("rivulet/browser");
const { ANSWER_TIMEOUT_MS, Session } = await import("../../playground/src/session.js");

/** A call that never answers until the worker is terminated, then rejects as page.ts does. */
function stuckHandle() {
  const waiting: ((e: Error) => void)[] = [];
  const stuck = () => new Promise<never>((_, reject) => waiting.push(reject));
  let topicsCalls = 0;
  let metricsCalls = 0;
  const idleMetrics = {
    produced: {},
    partitions: [],
    records: { in: 0 },
    checkpoints: { lastDurationMs: null },
    watermark: Number.NEGATIVE_INFINITY,
  };
  const handle = {
    started: { persist: true, restored: false },
    worker: { addEventListener() {} },
    describe: async () => ({ sources: ["clicks"], steps: [] }),
    topics: async () => {
      topicsCalls++;
      const clicks = { name: "clicks", partitions: 1, endOffsets: [0] };
      if (topicsCalls === 1) return [clicks];
      // The second listing (at the tick after a second, whose metrics hang) answers 600 ms later,
      // naming a new topic whose subscription then hangs: its own guard would fire after the watchdog.
      await new Promise((r) => setTimeout(r, 600));
      return [clicks, { name: "out", partitions: 1, endOffsets: [0] }];
    },
    subscribe: (topic: string) => (topic === "clicks" ? Promise.resolve(() => {}) : stuck()),
    // The first four ticks' metrics are answered; from the fifth (after a second) the worker spins.
    metrics: () => (++metricsCalls <= 4 ? Promise.resolve(idleMetrics) : stuck()),
    terminate: vi.fn(() => {
      const e = Object.assign(new Error("the job's worker was terminated"), { code: "JOB_STOPPED" });
      for (const reject of waiting.splice(0)) reject(e);
    }),
  };
  return handle;
}

function store() {
  return {
    clear() {},
    add() {},
    setMetrics() {},
    sample() {},
    head: Number.NEGATIVE_INFINITY,
    sources: new Set<string>(),
    lateTopics: new Set<string>(),
    deadLetterTopic: "",
  };
}

describe("playground session watchdog", () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a worker that stops answering is stopped as an endless loop; calls it leaves in flight do not overwrite that", async () => {
    const handle = stuckHandle();
    vi.mocked(startWorker).mockResolvedValue(handle as never);
    const session = new Session(store() as never, () => {});
    await session.start({
      js: "",
      database: "db",
      topics: [{ name: "clicks", partitions: 1 }],
      run: { tasks: "single", onError: "fail", maxBatch: 1000 },
    } as never);
    expect(session.status).toBe("running");
    // Past a second: the tick asks for metrics (which hang) and lists the topics again.
    await vi.advanceTimersByTimeAsync(1_250);
    expect(handle.terminate).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS + 300);
    // The watchdog stopped the worker before the subscription's own guard ran out.
    expect(handle.terminate).toHaveBeenCalledTimes(1);
    expect(session.problem?.message).toContain("while processing records");
    // Let every rejection of the terminated worker's calls settle.
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS * 2);
    expect(session.status).toBe("stopped");
    expect(session.problem?.kind).toBe("timeout");
    expect(session.problem?.message).toContain("endless loop");
  });
});
