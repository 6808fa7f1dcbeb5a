import type { Headers, ProduceRecord } from "../../core/index.js";

/**
 * Records encoded for the worker boundary: a batch of records as typed arrays (transferred,
 * not copied), with strings kept once per batch in a dictionary. Structured clone rebuilds an
 * object per record property by property (each key read and interned anew: 0.3-1 µs per small
 * record in Chromium's worker, more than the engine spends on it); here the worker rebuilds
 * the same objects from columns in a few tens of nanoseconds.
 *
 * What is encoded by column: values that are plain objects (prototype `Object.prototype` or
 * null) of the batch's first shape (the same keys in the same order) whose properties are all
 * numbers, strings, booleans, null or undefined; and values, keys, timestamps and partitions
 * that are such primitives themselves. Anything else (nested objects, arrays, dates, bigints,
 * another shape) is carried as is, structured-cloned with the message as before, so the worker
 * gets values deep-equal to those produced, property order included, whatever they are. The
 * differences: an object shared by several records arrives as separate copies when one of them
 * is encoded by column (a topic holds data, not references: through Kafka or IndexedDB they
 * are copies too); a getter of a value that turns out not to fit (a nested object after it) runs
 * twice, once here and once in the structured clone; a Proxy of a plain object, which structured
 * clone refuses, is encoded by its properties (nothing can tell it from the object).
 */
export interface EncodedRecords {
  /** What this is (the worker also takes plain `RecordColumns`). */
  readonly encoding: "rivulet-columns-1";
  readonly length: number;
  /** Each record's value: a cell, or (kind {@link Kind.Object}) an object of `fields` in `columns`. */
  readonly values: Column;
  /** The properties of the values of kind Object, in order. */
  readonly fields?: string[];
  /** One column per field, read at the rows whose value is of kind Object. */
  readonly columns?: Column[];
  readonly keys?: Column;
  readonly timestamps?: Column;
  readonly partitions?: Column;
  /** Headers by row, structured-cloned (absent when no record has any). */
  readonly headers?: (Headers | undefined)[];
}

/** What a cell holds. */
export const Kind = {
  Number: 0,
  String: 1,
  True: 2,
  False: 3,
  Null: 4,
  Undefined: 5,
  /** Anything else, structured-cloned in `others`. */
  Other: 6,
  /** Only in `values`: an object of the batch's shape, its properties in `columns`. */
  Object: 7,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** One column of cells, rows `[0, length)`. */
export interface Column {
  /** The kind of every cell, when all are one kind; otherwise `kinds` has each cell's. */
  readonly kind?: Kind;
  readonly kinds?: Uint8Array;
  /** Cells of kind Number, by row (other rows: 0): 32-bit integers when all are. */
  readonly numbers?: Float64Array | Int32Array;
  /** Cells of kind String, as indexes into `dictionary`, by row (8, 16 or 32 bits, as it needs). */
  readonly indexes?: Uint8Array | Uint16Array | Uint32Array;
  readonly dictionary?: string[];
  /** Cells of kind Other, by row (a sparse array). */
  readonly others?: unknown[];
}

/** Columns decoded in the worker: what a broker appends. */
export interface DecodedRecords {
  values: unknown[];
  /** Keys by row (as produced: the broker makes them strings); absent when none has one. */
  keys?: unknown[];
  /** Timestamps by row, `undefined` for none (the broker's clock); absent when none has one. */
  timestamps?: (number | undefined)[] | Float64Array | Int32Array;
  headers?: (Headers | undefined)[];
  partitions?: (number | undefined)[];
}

/** Builds a column a cell at a time; rows never set are never read. */
class ColumnWriter {
  private kind: Kind | -1 = -1;
  private kinds: Uint8Array | undefined;
  /**
   * The numbers: in an Int32Array while every one so far is a 32-bit integer (not -0), then in a
   * Float64Array (the rows so far copied over once). Written in the type they are sent as, so
   * `finish` converts nothing.
   */
  private ints: Int32Array | undefined;
  private doubles: Float64Array | undefined;
  /** The strings' indexes, as narrow as the dictionary so far allows (widened as it grows). */
  private indexes: Uint8Array | Uint16Array | Uint32Array | undefined;
  private dictionary: string[] | undefined;
  private lookup: Map<string, number> | undefined;
  private others: unknown[] | undefined;
  /** The last string set and its index: runs of one string skip the dictionary's lookup. */
  private lastString: string | undefined;
  private lastAt = 0;
  /** The value of the last `set` (what its row holds). */
  last: unknown;

  constructor(private readonly length: number) {}

  /** Sets row `i` to `v`; returns its kind (Other: `v` is kept for structured clone). */
  set(i: number, v: unknown): Kind {
    if (typeof v === "number") {
      this.setNumber(i, v);
      return Kind.Number;
    }
    if (typeof v === "string") {
      this.setString(i, v);
      return Kind.String;
    }
    this.last = v;
    let k: Kind;
    switch (typeof v) {
      case "boolean":
        k = v ? Kind.True : Kind.False;
        break;
      case "undefined":
        k = Kind.Undefined;
        break;
      default:
        if (v === null) k = Kind.Null;
        else {
          k = Kind.Other;
          (this.others ??= [])[i] = v;
        }
    }
    this.mark(i, k);
    return k;
  }

  /** Row `i` is the number `v` (what `set` does for a number; called directly where the caller knows). */
  setNumber(i: number, v: number): void {
    this.last = v;
    if (this.doubles !== undefined) this.doubles[i] = v;
    else if ((v | 0) === v && (v !== 0 || 1 / v > 0)) (this.ints ??= new Int32Array(this.length))[i] = v;
    else {
      // The first that is not a 32-bit integer: doubles from now on.
      this.doubles = new Float64Array(this.length);
      if (this.ints !== undefined) this.doubles.set(this.ints);
      this.ints = undefined;
      this.doubles[i] = v;
    }
    if (this.kind !== Kind.Number || this.kinds !== undefined) this.mark(i, Kind.Number);
  }

  /** Row `i` is the string `v`: its index in the batch's dictionary. */
  setString(i: number, v: string): void {
    this.last = v;
    let at: number | undefined;
    if (v === this.lastString) at = this.lastAt;
    else {
      const lookup = (this.lookup ??= new Map());
      at = lookup.get(v);
      if (at === undefined) {
        const d = (this.dictionary ??= []);
        at = d.length;
        d.push(v);
        lookup.set(v, at);
        if (at === 256 || at === 65_536) this.widen(at);
      }
      this.lastString = v;
      this.lastAt = at;
    }
    (this.indexes ??= new Uint8Array(this.length))[i] = at;
    if (this.kind !== Kind.String || this.kinds !== undefined) this.mark(i, Kind.String);
  }

  /** Index `at` no longer fits the indexes' type: the next wider one (the rows so far copied). */
  private widen(at: number): void {
    const wider = at === 256 ? new Uint16Array(this.length) : new Uint32Array(this.length);
    if (this.indexes !== undefined) wider.set(this.indexes);
    this.indexes = wider;
  }

  /** Sets row `i` to an object of the batch's shape (values only). */
  setObject(i: number): void {
    this.mark(i, Kind.Object);
  }

  /** Sets row `i` to a value kept for structured clone. */
  setOther(i: number, v: unknown): void {
    (this.others ??= [])[i] = v;
    this.mark(i, Kind.Other);
  }

  private mark(i: number, k: Kind): void {
    if (this.kinds !== undefined) this.kinds[i] = k;
    else if (this.kind !== k) {
      if (this.kind === -1) this.kind = k;
      else {
        // A second kind: from now on, a kind per row (the rows before were all `this.kind`).
        this.kinds = new Uint8Array(this.length).fill(this.kind, 0, i);
        this.kinds[i] = k;
      }
    }
  }

  finish(transfer: ArrayBuffer[]): Column {
    const c: {
      -readonly [K in keyof Column]: Column[K];
    } = {};
    if (this.kinds !== undefined) {
      c.kinds = this.kinds;
      transfer.push(this.kinds.buffer as ArrayBuffer);
    } else c.kind = this.kind === -1 ? Kind.Undefined : this.kind;
    // Integers as Int32Array: read back, they are small integers (Smis), as structured clone
    // gives them, not doubles. A double read from a Float64Array makes the property a boxed
    // double in every object, which the engine then reads more slowly (measured: the pipeline
    // on data already in the worker ran ~25% slower on such objects).
    const xs = this.doubles ?? this.ints;
    if (xs !== undefined) {
      c.numbers = xs;
      transfer.push(xs.buffer as ArrayBuffer);
    }
    if (this.indexes !== undefined) {
      // As narrow as the dictionary allows (what IndexedDB stores is smaller too).
      c.indexes = this.indexes;
      c.dictionary = this.dictionary!;
      transfer.push(this.indexes.buffer as ArrayBuffer);
    }
    if (this.others !== undefined) c.others = this.others;
    return c;
  }
}

const { getPrototypeOf } = Object;
const OBJECT_PROTOTYPE = Object.prototype;

/**
 * Encodes records for the worker; `transfer` gets the buffers to transfer with the message
 * (after which the page can no longer read them).
 *
 * @example
 * const transfer: ArrayBuffer[] = [];
 * const batch = encodeRecords(records, transfer);
 * worker.postMessage(batch, transfer); // the worker: decodeRecords(batch)
 */
export function encodeRecords(records: readonly ProduceRecord[], transfer: ArrayBuffer[]): EncodedRecords {
  const n = records.length;
  const values = new ColumnWriter(n);
  let fields: string[] | undefined;
  let columns: ColumnWriter[] | undefined;
  let keys: ColumnWriter | undefined;
  let timestamps: ColumnWriter | undefined;
  let partitions: ColumnWriter | undefined;
  let headers: (Headers | undefined)[] | undefined;
  // Inherited enumerable properties (a polluted Object.prototype) would pass for-in as the
  // value's own: then no value is encoded by column.
  const plain = !hasEnumerable({});
  // While every key so far is a property of its value (a click keyed by its user id), the keys
  // are that property's column: the message carries the one column twice (structured clone
  // keeps the reference), and the page spends no dictionary lookup on the keys. -1: not (yet).
  let keyField = -1;
  let shared = true;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const v = r.value;
    let object = false;
    if (typeof v !== "object" || v === null) values.set(i, v);
    else {
      const proto = getPrototypeOf(v);
      if (!plain || (proto !== OBJECT_PROTOTYPE && proto !== null)) values.setOther(i, v);
      else {
        if (fields === undefined) {
          fields = [];
          for (const k in v) fields.push(k);
          columns = fields.map(() => new ColumnWriter(n));
        }
        if (shaped(v as Record<string, unknown>, i, fields, columns!)) {
          values.setObject(i);
          object = true;
        } else values.setOther(i, v);
      }
    }
    const k = r.key;
    let keyed = false;
    if (shared) {
      if (object && i === 0 && typeof k === "string") keyField = columns!.findIndex((c) => c.last === k);
      if (object && keyField >= 0 && Object.is(k, columns![keyField]!.last)) keyed = true;
      else {
        // Not this one: from here on, the keys have a column of their own (the rows before
        // get theirs, each its value's property).
        shared = false;
        if (i > 0) {
          keys = new ColumnWriter(n);
          for (let j = 0; j < i; j++) keys.set(j, records[j]!.key);
        }
      }
    }
    if (!keyed) {
      if (k !== undefined && k !== null) (keys ??= nulls(n, i)).set(i, k);
      else keys?.set(i, null);
    }
    const t = r.timestamp;
    if (t !== undefined) (timestamps ??= undefineds(n, i)).set(i, t);
    else timestamps?.set(i, undefined);
    const p = r.partition;
    if (p !== undefined) (partitions ??= undefineds(n, i)).set(i, p);
    else partitions?.set(i, undefined);
    const h = r.headers;
    if (h !== undefined) (headers ??= new Array<Headers | undefined>(n).fill(undefined))[i] = h;
  }
  const out: { -readonly [K in keyof EncodedRecords]: EncodedRecords[K] } = {
    encoding: "rivulet-columns-1",
    length: n,
    values: values.finish(transfer),
  };
  if (fields !== undefined) {
    out.fields = fields;
    out.columns = columns!.map((c) => c.finish(transfer));
    if (shared && keyField >= 0) out.keys = out.columns[keyField]!;
  }
  if (keys) out.keys = keys.finish(transfer);
  if (timestamps) out.timestamps = timestamps.finish(transfer);
  if (partitions) out.partitions = partitions.finish(transfer);
  if (headers) out.headers = headers;
  return out;
}

/** Whether `v` has exactly `fields`, in order, all primitives; if so they are written to row `i`. */
function shaped(v: Record<string, unknown>, i: number, fields: readonly string[], columns: ColumnWriter[]) {
  let j = 0;
  const m = fields.length;
  // for-in: own enumerable keys in order (inherited ones too: then the shape does not match).
  for (const k in v) {
    if (j === m || k !== fields[j]) return false;
    const x = v[k];
    const c = columns[j]!;
    if (typeof x === "string") c.setString(i, x);
    else if (typeof x === "number") c.setNumber(i, x);
    else if (c.set(i, x) === Kind.Other) return false;
    j++;
  }
  return j === m;
}

function hasEnumerable(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function nulls(n: number, upTo: number): ColumnWriter {
  const c = new ColumnWriter(n);
  for (let i = 0; i < upTo; i++) c.set(i, null);
  return c;
}

function undefineds(n: number, upTo: number): ColumnWriter {
  const c = new ColumnWriter(n);
  for (let i = 0; i < upTo; i++) c.set(i, undefined);
  return c;
}

/** Whether a produce batch is encoded (otherwise it is plain `RecordColumns`). */
export function isEncoded(batch: object): batch is EncodedRecords {
  return (batch as { encoding?: unknown }).encoding === "rivulet-columns-1";
}

/** The value of row `i` of a column of kind `k` (not Object). */
function cell(c: Column, k: Kind, i: number): unknown {
  switch (k) {
    case Kind.Number:
      return c.numbers![i];
    case Kind.String:
      return c.dictionary![c.indexes![i]!];
    case Kind.True:
      return true;
    case Kind.False:
      return false;
    case Kind.Null:
      return null;
    case Kind.Other:
      return c.others![i];
    default:
      return undefined; // Undefined, or an Object (rebuilt from the columns)
  }
}

/** Rows `[0, n)` of a column as an array (`rows`: only those rows, the others left empty). */
export function decodeColumn(c: Column, n: number, rows?: Uint8Array): unknown[] {
  const out: unknown[] = new Array(n);
  const k = c.kind;
  if (k !== undefined && rows === undefined) {
    // One kind: a loop each, no branch per row.
    if (k === Kind.Number) {
      const xs = c.numbers!;
      for (let i = 0; i < n; i++) out[i] = xs[i];
    } else if (k === Kind.String) {
      const d = c.dictionary!;
      const ix = c.indexes!;
      for (let i = 0; i < n; i++) out[i] = d[ix[i]!];
    } else if (k === Kind.Other) {
      const o = c.others!;
      for (let i = 0; i < n; i++) out[i] = o[i];
    } else out.fill(cell(c, k, 0));
    return out;
  }
  for (let i = 0; i < n; i++)
    if (rows === undefined || rows[i] === Kind.Object) out[i] = cell(c, k ?? (c.kinds![i]! as Kind), i);
  return out;
}

/** The timestamps column, as the broker takes it (the typed array itself when every record has one). */
function decodeTimestamps(c: Column, n: number): Float64Array | Int32Array | (number | undefined)[] {
  if (c.kind === Kind.Number) return c.numbers!;
  return decodeColumn(c, n) as (number | undefined)[];
}

/** Whether assigning property `k` to a fresh object would call a setter (`__proto__`): then it is defined. */
function needsDefine(k: string): boolean {
  for (let o: object | null = OBJECT_PROTOTYPE; o !== null; o = getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d) return d.set !== undefined || d.get !== undefined || d.writable === false;
  }
  return false;
}

/**
 * A field's cells, at the rows of kind Object (`objects`; all rows when undefined). A column of
 * 32-bit integers for every row is read as it came (its cells are small integers, as the copy's
 * would be): one copy fewer per batch.
 */
function fieldCells(c: Column, n: number, objects: Uint8Array | undefined): ArrayLike<unknown> {
  if (objects === undefined && c.kind === Kind.Number && c.numbers instanceof Int32Array) return c.numbers;
  return decodeColumn(c, n, objects);
}

/**
 * The values: objects rebuilt from their columns, cells as they are, the rest as cloned; with the
 * fields' cells (`cols`, when the values have a shape: a column shared with the keys is decoded once).
 */
function decodeValues(e: EncodedRecords): { values: unknown[]; cols?: ArrayLike<unknown>[] } {
  const n = e.length;
  const v = e.values;
  if (e.fields === undefined) return { values: decodeColumn(v, n) };
  const fields = e.fields;
  const m = fields.length;
  const objects = v.kind === Kind.Object ? undefined : (v.kinds ?? new Uint8Array(n));
  // Each field's cells first (a tight loop per column), then the objects, a row at a time.
  const cols = e.columns!.map((c) => fieldCells(c, n, objects));
  const out: unknown[] = objects === undefined ? new Array(n) : decodeColumn(v, n);
  if (fields.some(needsDefine)) {
    for (let i = 0; i < n; i++) {
      if (objects !== undefined && objects[i] !== Kind.Object) continue;
      const o = {};
      for (let j = 0; j < m; j++)
        Object.defineProperty(o, fields[j]!, {
          value: cols[j]![i],
          writable: true,
          enumerable: true,
          configurable: true,
        });
      out[i] = o;
    }
    return { values: out, cols };
  }
  buildObjects(out, n, objects, fields, cols);
  return { values: out, cols };
}

/**
 * The objects of the batch's shape, property by property in `fields`' order, into `out` (the
 * rows of kind Object). The first eight properties each have a store of their own, whose name is
 * the same for every row: V8 then caches the object's next shape at each store (as for an object
 * literal: ~5-15 ns an object of three properties in Chromium, against 30-90 ns with one store
 * in a loop over the fields, whose name changes at every turn). No `new Function`: pages with a
 * Content-Security-Policy without 'unsafe-eval' work the same.
 */
function buildObjects(
  out: unknown[],
  n: number,
  objects: Uint8Array | undefined,
  fields: readonly string[],
  cols: readonly ArrayLike<unknown>[],
): void {
  const m = fields.length;
  const [f0 = "", f1 = "", f2 = "", f3 = "", f4 = "", f5 = "", f6 = "", f7 = ""] = fields;
  const [c0 = [], c1 = [], c2 = [], c3 = [], c4 = [], c5 = [], c6 = [], c7 = []] = cols;
  for (let i = 0; i < n; i++) {
    if (objects !== undefined && objects[i] !== Kind.Object) continue;
    const o: Record<string, unknown> = {};
    if (m > 0) {
      o[f0] = c0[i];
      if (m > 1) {
        o[f1] = c1[i];
        if (m > 2) {
          o[f2] = c2[i];
          if (m > 3) {
            o[f3] = c3[i];
            if (m > 4) {
              o[f4] = c4[i];
              if (m > 5) {
                o[f5] = c5[i];
                if (m > 6) {
                  o[f6] = c6[i];
                  if (m > 7) {
                    o[f7] = c7[i];
                    for (let j = 8; j < m; j++) o[fields[j]!] = cols[j]![i];
                  }
                }
              }
            }
          }
        }
      }
    }
    out[i] = o;
  }
}

/**
 * The records of an encoded batch, in columns, as the page produced them.
 *
 * @example
 * const { values, keys, timestamps } = decodeRecords(batch);
 */
export function decodeRecords(e: EncodedRecords): DecodedRecords {
  const n = e.length;
  const { values, cols } = decodeValues(e);
  const out: DecodedRecords = { values };
  if (e.keys) out.keys = sharedKeys(e, cols) ?? decodeColumn(e.keys, n);
  if (e.timestamps) out.timestamps = decodeTimestamps(e.timestamps, n);
  if (e.partitions) out.partitions = decodeColumn(e.partitions, n) as (number | undefined)[];
  if (e.headers) out.headers = e.headers;
  return out;
}

/**
 * The keys, when they are a field's column (`encodeRecords` sends the one column for both:
 * structured clone keeps it one object) whose cells were decoded for every row already: that
 * array, not a second copy (nothing writes to it after the objects are built).
 */
function sharedKeys(e: EncodedRecords, cols: ArrayLike<unknown>[] | undefined): unknown[] | undefined {
  if (cols === undefined || e.values.kind !== Kind.Object) return undefined;
  const j = e.columns!.indexOf(e.keys!);
  const c = j < 0 ? undefined : cols[j];
  return Array.isArray(c) ? c : undefined;
}
