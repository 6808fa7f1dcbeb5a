// Errors across a real Comlink boundary (a MessageChannel: what a Web Worker's postMessage does
// to them, structured clone included), with the handlers core/errors.ts provides.
import { MessageChannel } from "node:worker_threads";
import { type Endpoint, expose, transferHandlers, wrap } from "comlink";
import { afterAll, describe, expect, it } from "vitest";
import { PipelineError, RivuletError, registerErrorTransfer, UserFunctionError } from "../../core/index.js";

const channel = new MessageChannel();
const api = {
  fail(kind: string): void {
    if (kind === "rivulet")
      throw new RivuletError("BROKER", "commit failed", {
        retriable: true,
        cause: new UserFunctionError("step 3 (map)", new TypeError("bad")),
      });
    if (kind === "pipeline") throw new PipelineError("step 2 (window)", "needs a key");
    if (kind === "plain") throw new RangeError("plain");
    throw "a string";
  },
  error: () => new RivuletError("STATE", "as a value", { retriable: true }),
};
expose(api, channel.port1 as unknown as Endpoint);
const remote = wrap<typeof api>(channel.port2 as unknown as Endpoint);
afterAll(() => {
  channel.port1.close();
  channel.port2.close();
});

describe("errors across a Comlink boundary", () => {
  it("Comlink alone keeps only message, name and stack", async () => {
    const e = await remote.fail("rivulet").catch((x: unknown) => x);
    expect(e).toMatchObject({ message: "commit failed" });
    expect((e as { code?: unknown }).code).toBeUndefined();
    expect(e).not.toBeInstanceOf(RivuletError);
  });

  it("with registerErrorTransfer: class, code, retriable, step and causes arrive", async () => {
    registerErrorTransfer(transferHandlers);
    registerErrorTransfer(transferHandlers); // twice is once
    const e = await remote.fail("rivulet").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RivuletError);
    expect(e).toMatchObject({ code: "BROKER", retriable: true, message: "commit failed" });
    expect((e as Error).cause).toBeInstanceOf(UserFunctionError);
    expect((e as Error).cause).toMatchObject({ step: "step 3 (map)", code: "USER_FUNCTION" });
    expect(((e as Error).cause as Error).cause).toMatchObject({ name: "TypeError", message: "bad" });
    const p = await remote.fail("pipeline").catch((x: unknown) => x);
    expect(p).toBeInstanceOf(PipelineError);
    expect(p).toMatchObject({ step: "step 2 (window)", code: "INVALID_PIPELINE" });
    expect(await remote.fail("plain").catch((x: unknown) => x)).toMatchObject({
      name: "RangeError",
      message: "plain",
    });
    expect(await remote.fail("string").catch((x: unknown) => x)).toBe("a string");
    const v = await remote.error();
    expect(v).toBeInstanceOf(RivuletError);
    expect(v).toMatchObject({ code: "STATE", retriable: true });
  });
});
