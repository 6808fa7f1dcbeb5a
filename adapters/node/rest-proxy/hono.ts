/**
 * Hono, loaded once for the REST proxy. `hono` and `@hono/node-server` are optional peer
 * dependencies: `rivulet/node` without them still imports (KafkaBroker, the CLI's `run`), and
 * only the proxy says what to install. Type-only imports from "hono" need no install.
 *
 * @example
 * import { honoParts } from "./hono.js";
 * const { Hono } = honoParts(); // throws a RivuletError naming the packages when missing
 *
 * @module
 */
import type * as HonoCore from "hono";
import type * as BearerAuth from "hono/bearer-auth";
import type * as BodyLimit from "hono/body-limit";
import type * as Cors from "hono/cors";
import { RivuletError } from "../../../core/index.js";

export interface HonoParts {
  Hono: typeof HonoCore.Hono;
  bearerAuth: typeof BearerAuth.bearerAuth;
  bodyLimit: typeof BodyLimit.bodyLimit;
  cors: typeof Cors.cors;
}

export const MISSING_HONO =
  'the Kafka REST proxy needs the packages "hono" and "@hono/node-server": npm install hono @hono/node-server';

/** Whether `e` says that `name` itself is not installed (a broken install keeps its own error). */
export function isMissing(e: unknown, name: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const quoted = new RegExp(`["']${name.replace(/[/.]/g, "\\$&")}(/[^"']*)?["']`);
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && quoted.test(String(e));
}

type Loaded = { ok: true; parts: HonoParts } | { ok: false; error: unknown };

async function load(): Promise<Loaded> {
  try {
    const [core, bearer, limit, cors] = await Promise.all([
      import("hono"),
      import("hono/bearer-auth"),
      import("hono/body-limit"),
      import("hono/cors"),
    ]);
    return {
      ok: true,
      parts: { Hono: core.Hono, bearerAuth: bearer.bearerAuth, bodyLimit: limit.bodyLimit, cors: cors.cors },
    };
  } catch (e) {
    if (!isMissing(e, "hono")) throw e;
    return { ok: false, error: e };
  }
}

const loaded = await load();

/** Hono's parts, or a clear error when `hono` is not installed. */
export function honoParts(): HonoParts {
  if (!loaded.ok) throw new RivuletError("INVALID_ARGUMENT", MISSING_HONO, { cause: loaded.error });
  return loaded.parts;
}
