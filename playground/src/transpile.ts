// TypeScript to JavaScript in the page, with sucrase: types stripped, imports made CommonJS
// (`require("rivulet")`), line numbers kept, so an error's line in the output is its line in the
// source. A syntax error comes back with its position for the editor. No DOM, no Node.
import { transform } from "sucrase";

export type Transpiled =
  | { ok: true; code: string }
  | { ok: false; message: string; line: number; column: number; from: number };

/** The module's name in stack traces of code evaluated from it (`//# sourceURL`). */
export const USER_FILE = "pipeline.ts";

/**
 * @example
 * const t = transpile(source);
 * if (!t.ok) showError(t.line, t.message);
 */
export function transpile(source: string): Transpiled {
  try {
    const { code } = transform(source, {
      transforms: ["typescript", "imports"],
      filePath: USER_FILE,
      production: true,
    });
    return { ok: true, code };
  } catch (e) {
    const err = e as { message?: string; pos?: number; loc?: { line: number; column: number } };
    const from = typeof err.pos === "number" ? Math.min(err.pos, source.length) : 0;
    const before = source.slice(0, from);
    const line = err.loc?.line ?? before.split("\n").length;
    const column = from - (before.lastIndexOf("\n") + 1) + 1;
    const message = String(err.message ?? e).replace(/\s*\(\d+:\d+\)\s*$/, "");
    return { ok: false, message, line, column, from };
  }
}
