/**
 * Keyed state, declared by descriptors (as Flink's `ValueStateDescriptor`) and reached through
 * the process context, always scoped to the key of the record or timer being handled.
 *
 * @example
 * const lastSeen = valueState<number>("lastSeen");
 * keyed.process<Alert>({
 *   onRecord(click, ctx) {
 *     const seen = ctx.state(lastSeen);
 *     if (seen.get() === undefined) ctx.emit({ user: ctx.key, first: click.ts });
 *     seen.set(click.ts);
 *   },
 * });
 */
export type StateDescriptor<V = unknown> =
  | ValueStateDescriptor<V>
  | MapStateDescriptor<any, any>
  | ListStateDescriptor<any>;

export interface ValueStateDescriptor<V> {
  readonly kind: "value";
  readonly name: string;
  readonly initial: V | undefined;
  /** Type witness only. */
  readonly _v?: V;
}
export interface MapStateDescriptor<MK, MV> {
  readonly kind: "map";
  readonly name: string;
  readonly _k?: MK;
  readonly _v?: MV;
}
export interface ListStateDescriptor<V> {
  readonly kind: "list";
  readonly name: string;
  readonly _v?: V;
}

/** One value per key; `get()` gives `initial` (or undefined) until set. */
export function valueState<V>(name: string, initial?: V): ValueStateDescriptor<V> {
  return { kind: "value", name, initial };
}

/** A map per key. */
export function mapState<MK, MV>(name: string): MapStateDescriptor<MK, MV> {
  return { kind: "map", name };
}

/** A list per key. */
export function listState<V>(name: string): ListStateDescriptor<V> {
  return { kind: "list", name };
}

export interface ValueState<V> {
  get(): V | undefined;
  set(value: V): void;
  clear(): void;
}

export interface MapState<MK, MV> {
  get(key: MK): MV | undefined;
  set(key: MK, value: MV): void;
  has(key: MK): boolean;
  delete(key: MK): void;
  entries(): IterableIterator<[MK, MV]>;
  readonly size: number;
  clear(): void;
}

export interface ListState<V> {
  get(): readonly V[];
  add(value: V): void;
  update(values: readonly V[]): void;
  clear(): void;
}
