import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type Checkpoint,
  decodeSnapshot,
  encodeSnapshot,
  RivuletError,
  type StateStore,
} from "../../core/index.js";

export interface FileStateStoreOptions {
  /**
   * fsync each snapshot and then the directory before `put` resolves (default true). The commit
   * that follows names the snapshot, so without it a power loss right after a commit can leave
   * offsets pointing at a checkpoint the disk never kept. Off is for tests and throwaway runs.
   */
  durable?: boolean;
}

/**
 * Checkpoints in local files: one directory, one file per (section, checkpoint id) holding the
 * encoded snapshot (`encodeSnapshot`), each written to a temporary file and renamed into place,
 * so a reader sees a whole snapshot or none; then one manifest per checkpoint listing its
 * sections, renamed into place last: a checkpoint is complete (`latest`) once its manifest is
 * there. Survives process restarts on one machine; processes of a group on the same machine may
 * share the directory. A partition that moves to another machine finds no checkpoint there (a
 * clear error at restore): across machines, use a Kafka changelog store.
 *
 * @example
 * import { run } from "rivulet";
 * import { FileStateStore, KafkaBroker } from "rivulet/node";
 * const job = await run(perMinute, {
 *   broker: new KafkaBroker({ brokers: ["127.0.0.1:9092"] }),
 *   state: new FileStateStore("./.rivulet/state"),
 *   group: "clicks-per-minute",
 * });
 */
export class FileStateStore implements StateStore {
  private readonly durable: boolean;
  private ready: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    options: FileStateStoreOptions = {},
  ) {
    if (typeof dir !== "string" || dir.length === 0)
      throw new RivuletError("INVALID_ARGUMENT", "FileStateStore needs a directory path");
    this.durable = options.durable ?? true;
  }

  async put(checkpoint: Checkpoint): Promise<void> {
    const { id, seq } = checkpoint;
    // Encoded first: a snapshot that cannot be encoded writes nothing.
    const encoded = [...checkpoint.sections].map(
      ([section, snap]) => [section, encodeSnapshot(snap)] as const,
    );
    await this.ensureDir();
    for (const [section, text] of encoded)
      await this.write(fileName(section, id), text, `checkpoint "${id}" of "${section}"`);
    if (this.durable) await syncDir(this.dir);
    const manifest: Manifest = { id, seq, sections: encoded.map(([s]) => s) };
    await this.write(manifestName(id), JSON.stringify(manifest), `the manifest of checkpoint "${id}"`);
    if (this.durable) await syncDir(this.dir);
  }

  async get(section: string, id: string): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(join(this.dir, fileName(section, id)), "utf8");
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      throw new RivuletError("STATE", `could not read checkpoint "${id}" of "${section}" in ${this.dir}`, {
        cause: e,
        retriable: true,
      });
    }
    try {
      return decodeSnapshot(text);
    } catch (e) {
      throw new RivuletError("STATE", `checkpoint "${id}" of "${section}" in ${this.dir} is corrupt`, {
        cause: e,
      });
    }
  }

  /** The newest checkpoint whose manifest lists `section` and whose file for it is there. */
  async latest(section: string): Promise<string | undefined> {
    const names = await this.list();
    const manifests = await this.manifests(names);
    const found = manifests
      .filter((m) => m.sections.includes(section) && names.has(fileName(section, m.id)))
      .sort((a, b) => b.seq - a.seq);
    return found[0]?.id;
  }

  async retain(section: string, id: string): Promise<void> {
    const prefix = `${encodeName(section)}${SEPARATOR}`;
    const keep = fileName(section, id);
    const names = await this.list();
    for (const n of names)
      if (n.startsWith(prefix) && n.endsWith(SUFFIX) && n !== keep) {
        await this.remove(n);
        names.delete(n);
      }
    // A manifest goes once none of its sections' files is left.
    for (const m of await this.manifests(names))
      if (m.id !== id && !m.sections.some((s) => names.has(fileName(s, m.id))))
        await this.remove(manifestName(m.id));
  }

  /** Checkpoint ids held, per section (tests, tooling). */
  async ids(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errno(e) !== "ENOENT") throw e;
    }
    for (const n of names.sort()) {
      if (n.startsWith(".") || !n.endsWith(SUFFIX)) continue;
      const [s, i] = n.slice(0, -SUFFIX.length).split(SEPARATOR);
      if (s === undefined || i === undefined || s.includes("=") || i.includes("=")) continue; // hashed: not reversible
      const section = decodeURIComponent(s);
      out.set(section, [...(out.get(section) ?? []), decodeURIComponent(i)]);
    }
    return out;
  }

  private ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(
      () => {},
      (e: unknown) => {
        this.ready = undefined;
        throw new RivuletError("STATE", `could not create the state directory ${this.dir}`, { cause: e });
      },
    );
    return this.ready;
  }

  /** Writes a file whole: to a temporary name, synced, then renamed into place. */
  private async write(name: string, text: string, what: string): Promise<void> {
    // Temporary names start with "." and encoded names never do, so listings tell them apart.
    const tmp = join(this.dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(text, "utf8");
        if (this.durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, name));
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw new RivuletError("STATE", `could not write ${what} in ${this.dir}`, {
        cause: e,
        retriable: true,
      });
    }
  }

  private async list(): Promise<Set<string>> {
    try {
      return new Set(await readdir(this.dir));
    } catch (e) {
      if (errno(e) === "ENOENT") return new Set();
      throw new RivuletError("STATE", `could not list the state directory ${this.dir}`, {
        cause: e,
        retriable: true,
      });
    }
  }

  private async manifests(names: ReadonlySet<string>): Promise<Manifest[]> {
    const out: Manifest[] = [];
    for (const n of names) {
      if (n.startsWith(".") || !n.endsWith(MANIFEST)) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), "utf8")) as Manifest);
      } catch (e) {
        if (errno(e) !== "ENOENT") throw e; // another process of the group dropped it meanwhile
      }
    }
    return out;
  }

  private async remove(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch((e: unknown) => {
      if (errno(e) !== "ENOENT") throw e; // another process of the group got there first
    });
  }
}

/** What a checkpoint's manifest holds. */
interface Manifest {
  id: string;
  seq: number;
  sections: string[];
}

const SEPARATOR = "~";
const SUFFIX = ".snapshot";
const MANIFEST = ".checkpoint";
/** Encoded names longer than this are cut and completed with a hash (file names stop at 255 bytes). */
const MAX_NAME = 100;

function fileName(section: string, id: string): string {
  return `${encodeName(section)}${SEPARATOR}${encodeName(id)}${SUFFIX}`;
}

/** `~<id>.checkpoint`: never a temporary name (those start with "."), even for an empty id. */
function manifestName(id: string): string {
  return `${SEPARATOR}${encodeName(id)}${MANIFEST}`;
}

/**
 * A name safe on every file system: ASCII lower-case letters, digits, "_" and "-" stay, anything
 * else (including "/", ".", "~" and upper-case letters, which case-insensitive file systems would
 * merge with lower-case ones) becomes %XX of its UTF-8 bytes. Over-long names keep a readable
 * head plus a hash after "=", a character encoding never produces.
 *
 * @example
 * encodeName("clicks/0"); // "clicks%2F0"
 */
export function encodeName(name: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    out += /[a-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.length <= MAX_NAME) return out;
  return `${out.slice(0, 60)}=${createHash("sha256").update(name).digest("hex").slice(0, 32)}`;
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename durable. Not possible everywhere (Windows cannot open a directory): skipped there.
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => {});
  }
}

function errno(e: unknown): string | undefined {
  return typeof e === "object" && e !== null ? (e as { code?: string }).code : undefined;
}
