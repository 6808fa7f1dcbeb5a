import {
  type Checkpoint,
  decodeSnapshot,
  encodeSnapshot,
  RivuletError,
  type StateStore,
} from "../../core/index.js";

/**
 * The storage a {@link KeyValueStateStore} needs: string values under string keys, and one
 * atomic write of several keys (puts and deletes together, all or nothing). Durable Objects'
 * storage has it ({@link durableObjectStorage}); so do Deno KV's `atomic()` and most databases.
 * Cloudflare's Workers KV does not (eventually consistent, no multi-key write): not for state.
 */
export interface KeyValueStorage {
  get(key: string): Promise<string | undefined>;
  /** Puts `entries` and deletes `deletes` in one atomic write. */
  write(entries: Readonly<Record<string, string>>, deletes?: readonly string[]): Promise<void>;
  /** Keys that start with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

export interface KeyValueStateStoreOptions {
  /** Characters per stored value: snapshots longer than this go in parts (default 60 000). */
  maxValueChars?: number;
  /** Prefix of every key (default `rivulet/`). */
  prefix?: string;
}

/**
 * Checkpoints in a key-value storage with atomic multi-key writes: each section's snapshot
 * encoded (`encodeSnapshot`) in parts of at most `maxValueChars` (Durable Objects take 128 KiB
 * per value; a part of 60 000 characters stays below it even at 2 bytes a character), and per
 * section the id of its latest checkpoint, all written in one atomic write: the store owns the
 * offsets (every snapshot holds its partitions' positions), so a job on a REST proxy restores
 * exactly once from `latest`.
 *
 * @example
 * const state = new KeyValueStateStore(durableObjectStorage(ctx.storage));
 * const job = await run(pipeline, { broker, state, group: "clicks", manual: true });
 */
export class KeyValueStateStore implements StateStore {
  private readonly max: number;
  private readonly prefix: string;

  constructor(
    private readonly storage: KeyValueStorage,
    options: KeyValueStateStoreOptions = {},
  ) {
    this.max = options.maxValueChars ?? 60_000;
    if (!(this.max >= 16)) throw new RivuletError("INVALID_ARGUMENT", "maxValueChars must be at least 16");
    this.prefix = options.prefix ?? "rivulet/";
  }

  async put(checkpoint: Checkpoint): Promise<void> {
    const entries: Record<string, string> = {};
    const set = (k: string, v: string) => Object.defineProperty(entries, k, { value: v, enumerable: true });
    for (const [section, snap] of checkpoint.sections) {
      const text = encodeSnapshot(snap);
      const parts = Math.max(1, Math.ceil(text.length / this.max));
      set(this.head(section, checkpoint.id), JSON.stringify({ parts, seq: checkpoint.seq }));
      for (let i = 0; i < parts; i++)
        set(this.part(section, checkpoint.id, i), text.slice(i * this.max, (i + 1) * this.max));
      set(this.latestKey(section), checkpoint.id);
    }
    await this.io(`writing checkpoint "${checkpoint.id}"`, () => this.storage.write(entries));
  }

  async get(section: string, id: string): Promise<unknown> {
    const head = await this.io("reading a checkpoint", () => this.storage.get(this.head(section, id)));
    if (head === undefined) return undefined;
    const { parts } = JSON.parse(head) as { parts: number };
    let text = "";
    for (let i = 0; i < parts; i++) {
      const part = await this.io("reading a checkpoint", () => this.storage.get(this.part(section, id, i)));
      if (part === undefined)
        throw new RivuletError("STATE", `checkpoint "${id}" of "${section}" misses part ${i} of ${parts}`);
      text += part;
    }
    return decodeSnapshot(text);
  }

  async latest(section: string): Promise<string | undefined> {
    return this.io("reading the latest checkpoint", () => this.storage.get(this.latestKey(section)));
  }

  /** Deletes the section's other checkpoints, in one write. */
  async retain(section: string, id: string): Promise<void> {
    const base = `${this.prefix}cp/${esc(section)}/`;
    const keep = `${base}${esc(id)}/`;
    const stale = (await this.io("listing checkpoints", () => this.storage.list(base))).filter(
      (k) => !k.startsWith(keep),
    );
    if (stale.length > 0) await this.io("dropping old checkpoints", () => this.storage.write({}, stale));
  }

  private head(section: string, id: string): string {
    return `${this.prefix}cp/${esc(section)}/${esc(id)}/head`;
  }

  private part(section: string, id: string, i: number): string {
    return `${this.prefix}cp/${esc(section)}/${esc(id)}/${i}`;
  }

  private latestKey(section: string): string {
    return `${this.prefix}latest/${esc(section)}`;
  }

  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof RivuletError) throw e;
      throw new RivuletError("STATE", `${what} failed: ${(e as Error)?.message ?? String(e)}`, {
        cause: e,
        retriable: true,
      });
    }
  }
}

/** Keys stay unambiguous whatever a section or id holds ("/" included). */
const esc = (s: string) => encodeURIComponent(s);

/**
 * The part of Durable Objects' storage API the store uses (`ctx.storage` / `state.storage`).
 */
export interface DurableObjectStorageLike {
  get<T = unknown>(key: string): Promise<T | undefined>;
  list<T = unknown>(options: { prefix: string }): Promise<Map<string, T>>;
  transaction<T>(fn: (txn: DurableObjectTransactionLike) => Promise<T>): Promise<T>;
}

export interface DurableObjectTransactionLike {
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
}

/**
 * A Durable Object's storage as a {@link KeyValueStorage}: a checkpoint is one storage
 * transaction (puts of at most 128 keys per call, as the API allows).
 *
 * @example
 * export class Jobs { constructor(ctx) { this.state = new KeyValueStateStore(durableObjectStorage(ctx.storage)); } }
 */
export function durableObjectStorage(storage: DurableObjectStorageLike): KeyValueStorage {
  return {
    async get(key) {
      const v = await storage.get<string>(key);
      return typeof v === "string" ? v : undefined;
    },
    async write(entries, deletes = []) {
      const pairs = Object.entries(entries);
      await storage.transaction(async (txn) => {
        for (let i = 0; i < pairs.length; i += 128)
          await txn.put(Object.fromEntries(pairs.slice(i, i + 128)));
        for (let i = 0; i < deletes.length; i += 128) await txn.delete(deletes.slice(i, i + 128));
      });
    },
    async list(prefix) {
      return [...(await storage.list({ prefix })).keys()];
    },
  };
}

/**
 * A {@link KeyValueStorage} in memory (tests, and runtimes that hold a job in one process).
 *
 * @example
 * const state = new KeyValueStateStore(memoryStorage());
 */
export function memoryStorage(): KeyValueStorage & { readonly map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    async get(key) {
      return map.get(key);
    },
    async write(entries, deletes = []) {
      for (const [k, v] of Object.entries(entries)) map.set(k, v);
      for (const k of deletes) map.delete(k);
    },
    async list(prefix) {
      return [...map.keys()].filter((k) => k.startsWith(prefix));
    },
  };
}
