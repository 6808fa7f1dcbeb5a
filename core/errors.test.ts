import { describe, expect, it } from "vitest";
import {
  deserializeError,
  errorTransferHandler,
  isRivuletError,
  PipelineError,
  RivuletError,
  serializeError,
  UserFunctionError,
} from "./errors.js";

/** What crossing a worker boundary does to a value: a structured clone. */
const across = (e: unknown) => deserializeError(structuredClone(serializeError(e)));

describe("errors across a worker boundary", () => {
  it("a plain structured clone loses a RivuletError's class, code and retriable (why serializeError exists)", () => {
    const raw = structuredClone(new RivuletError("BROKER", "down", { retriable: true })) as unknown;
    expect(isRivuletError(raw)).toBe(false);
    expect((raw as { code?: unknown }).code).toBeUndefined();
  });

  it("keeps class, code, retriable, step, message, stack and the chain of causes", () => {
    const root = new TypeError("bad input");
    const user = new UserFunctionError("step 3 (map)", root);
    const top = new RivuletError("BROKER", "commit failed", { cause: user, retriable: true });
    const back = across(top);
    expect(back).toBeInstanceOf(RivuletError);
    expect(back).toBeInstanceOf(Error);
    expect(isRivuletError(back)).toBe(true);
    expect(back).toMatchObject({
      name: "RivuletError",
      code: "BROKER",
      retriable: true,
      message: "commit failed",
    });
    expect(back.stack).toBe(top.stack);
    const cause = back.cause as UserFunctionError;
    expect(cause).toBeInstanceOf(UserFunctionError);
    expect(cause).toMatchObject({ code: "USER_FUNCTION", step: "step 3 (map)", retriable: false });
    expect(cause.message).toBe(user.message);
    expect(cause.cause).toBeInstanceOf(Error);
    expect(cause.cause).toMatchObject({ name: "TypeError", message: "bad input" });
    expect(isRivuletError(cause.cause)).toBe(false);
    const pipeline = across(new PipelineError("step 2 (window)", "needs a key"));
    expect(pipeline).toBeInstanceOf(PipelineError);
    expect(pipeline).toMatchObject({
      code: "INVALID_PIPELINE",
      step: "step 2 (window)",
      message: "Invalid pipeline at step 2 (window): needs a key",
    });
  });

  it("anything else thrown arrives as an Error describing it, the value kept when it is data", () => {
    expect(across("plain string")).toMatchObject({ message: "plain string", cause: "plain string" });
    expect(across({ n: 1 })).toMatchObject({ message: '{"n":1}', cause: { n: 1 } });
    const fn = across(new RivuletError("STATE", "x", { cause: () => 1 }));
    expect(typeof fn.cause).toBe("string"); // a function cannot cross: its description does
  });

  it("is a Comlink transfer handler for Rivulet errors", () => {
    const e = new RivuletError("UNKNOWN_TOPIC", "no such topic");
    expect(errorTransferHandler.canHandle(e)).toBe(true);
    expect(errorTransferHandler.canHandle(new Error("x"))).toBe(false);
    const [wire, transfer] = errorTransferHandler.serialize(e);
    expect(transfer).toEqual([]);
    expect(errorTransferHandler.deserialize(structuredClone(wire))).toMatchObject({ code: "UNKNOWN_TOPIC" });
  });
});
