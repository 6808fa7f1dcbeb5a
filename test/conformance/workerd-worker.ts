// The conformance cases in workerd: `POST /run?case=<name>&prefix=<topic prefix>&base=<ms>&proxy=<url>`
// runs a case's pipeline through the REST proxy with `RestProxyBroker`, a bounded step at a time
// until it has read `expect` input records, then drains it, and answers the job's counts. The
// tests create the topics, write the input and read the outputs from Node.
import { run } from "rivulet";
import { KeyValueStateStore, memoryStorage, RestProxyBroker } from "rivulet/edge";
import { caseNamed, prefixedEnv } from "./cases.js";
import { caseRunOptions } from "./harness.js";

export default {
  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const c = caseNamed(q.get("case") ?? "");
    const env = prefixedEnv(q.get("prefix") ?? "", Number(q.get("base")));
    const expected = Number(q.get("expect"));
    const broker = new RestProxyBroker({ url: q.get("proxy")!, fetchTimeout: 100 });
    try {
      const job = await run(c.pipeline(env), {
        ...caseRunOptions(c, env),
        broker,
        state: new KeyValueStateStore(memoryStorage()),
        group: `${q.get("prefix")}workerd`,
        manual: true,
        maxBatch: 7,
      });
      const deadline = Date.now() + 60_000;
      while (job.metrics().records.in < expected && Date.now() < deadline) await job.runFor({ maxMs: 2_000 });
      await job.drain();
      return Response.json(job.metrics());
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, { status: 500 });
    } finally {
      await broker.close();
    }
  },
};
