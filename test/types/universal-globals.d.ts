// The few globals core may use: the ones every JavaScript runtime has (Node, Deno, Bun, workerd,
// browsers; the WinterCG minimum common API). tsconfig.core.json checks core against ES + these
// alone, so a DOM- or Node-only API in core is a compile error.
declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function clearTimeout(id: unknown): void;
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare function structuredClone<T>(value: T): T;
