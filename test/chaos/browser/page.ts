// The page of the browser scenario (test/chaos/browser.ts drives it through playwright-core):
// it starts the job's worker on an IndexedDB database, produces the scenario's input, and
// terminates the worker when told, as a crash would. Everything it answers is plain data.
import { type BrokerFeed, fromBroker, startWorker, type WorkerJobHandle } from "rivulet/browser";
import { RestProxyBroker } from "rivulet/edge";
import { DEFAULT_TOPICS } from "../../../adapters/edge/example/pipeline.js";
import { clicks, row } from "./clicks.js";
import workerUrl from "./job.worker.ts?worker&url";

let job: WorkerJobHandle | undefined;
let feed: BrokerFeed | undefined;
let feedError: string | undefined;

const running = (): WorkerJobHandle => {
  if (!job) throw new Error("no job: start one first");
  return job;
};

/** What the page gives the scenario: an error as its name, code and message. */
const described = (e: unknown) => ({
  name: (e as Error)?.name ?? "",
  code: (e as { code?: string })?.code ?? "",
  message: (e as Error)?.message ?? String(e),
});

const chaos = {
  async start(database: string) {
    job = await startWorker(workerUrl, { database, sliceMs: 5 });
    return job.started;
  },
  /** Produces clicks [from, from + n); resolves once they are in IndexedDB, or with the error. */
  async produce(from: number, n: number) {
    try {
      await running().produce(DEFAULT_TOPICS.clicks, clicks(from, n));
      return { ok: true as const };
    } catch (e) {
      return { ok: false as const, error: described(e) };
    }
  },
  /** The job's lag on its input and the records it has read since it started. */
  async progress() {
    const j = running();
    const topic = (await j.topics()).find((t) => t.name === DEFAULT_TOPICS.clicks);
    const lag = topic ? topic.group.lag.reduce((a, b) => a + b, 0) : 0;
    return { lag, read: (await j.metrics()).records.in };
  },
  async checkpoint() {
    await running().checkpoint();
  },
  /** Feeds the job's clicks from Kafka topics through a REST proxy (fromBroker). */
  feed(url: string, topics: string[], group: string) {
    feed = fromBroker(running(), DEFAULT_TOPICS.clicks, {
      broker: new RestProxyBroker({ url }),
      topics,
      group,
      idleMs: 50,
    });
    feedError = undefined;
    feed.done.catch((e: unknown) => (feedError = described(e).message));
  },
  /** The running feed's counts, or what failed it. */
  feedStats() {
    if (feedError !== undefined) throw new Error(`the feed failed: ${feedError}`);
    return feed ? { ...feed.stats } : undefined;
  },
  async stopFeed() {
    const f = feed;
    feed = undefined;
    if (!f) throw new Error("no feed");
    await f.stop();
    return { ...f.stats };
  },
  /** Kills the worker at once, wherever it is (mid-slice, mid-commit). */
  terminate() {
    running().terminate();
    job = undefined;
  },
  /** Reads the rest, then the output topic and how many inputs the topic holds. */
  async finish() {
    const j = running();
    await j.drain();
    const out = await j.records(DEFAULT_TOPICS.perMinute);
    const late = await j.records(DEFAULT_TOPICS.late);
    const dead = await j.records("rivulet-dlq").catch(() => []);
    return {
      rows: out.map(row),
      late: late.length,
      dead: dead.map((r) => r.headers["rivulet.error.reason"] ?? ""),
      offsetsUnique: new Set(out.map((r) => `${r.partition}:${r.offset}`)).size === out.length,
      inputs: (await j.records(DEFAULT_TOPICS.clicks)).length,
    };
  },
  async usage() {
    const e = await navigator.storage.estimate();
    return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
  },
};

(globalThis as unknown as { chaos: typeof chaos }).chaos = chaos;
document.title = "ready";
