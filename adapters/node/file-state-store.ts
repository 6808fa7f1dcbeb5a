import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { RivuletError, type StateStore } from "../../core/index.js";

export interface FileStateStoreOptions {
  /**
   * fsync each snapshot and then the directory before `put` resolves (default true). The commit
   * that follows names the snapshot, so without it a power loss right after a commit can leave
   * offsets pointing at a checkpoint the disk never kept. Off is for tests and throwaway runs.
   */
  durable?: boolean;
}

/**
 * Checkpoints in local files: one directory, one file per (section, checkpoint id), each written
 * to a temporary file and renamed into place, so a reader sees a whole snapshot or none.
 * Survives process restarts on one machine; processes of a group on the same machine may share
 * the directory. A partition that moves to another machine finds no checkpoint there (a clear
 * error at restore): across machines, use a Kafka changelog store.
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

  async put(section: string, id: string, snapshot: string): Promise<void> {
    await this.ensureDir();
    const name = fileName(section, id);
    // Temporary names start with "." and encoded names never do, so listings tell them apart.
    const tmp = join(this.dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(snapshot, "utf8");
        if (this.durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, name));
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw new RivuletError("STATE", `could not write checkpoint "${id}" of "${section}" in ${this.dir}`, {
        cause: e,
        retriable: true,
      });
    }
    if (this.durable) await syncDir(this.dir);
  }

  async get(section: string, id: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, fileName(section, id)), "utf8");
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      throw new RivuletError("STATE", `could not read checkpoint "${id}" of "${section}" in ${this.dir}`, {
        cause: e,
      });
    }
  }

  async retain(section: string, id: string): Promise<void> {
    const prefix = `${encodeName(section)}${SEPARATOR}`;
    const keep = fileName(section, id);
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errno(e) === "ENOENT") return;
      throw e;
    }
    for (const n of names)
      if (n.startsWith(prefix) && n.endsWith(SUFFIX) && n !== keep)
        await unlink(join(this.dir, n)).catch((e: unknown) => {
          if (errno(e) !== "ENOENT") throw e; // another process of the group got there first
        });
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
}

const SEPARATOR = "~";
const SUFFIX = ".snapshot";
/** Encoded names longer than this are cut and completed with a hash (file names stop at 255 bytes). */
const MAX_NAME = 100;

function fileName(section: string, id: string): string {
  return `${encodeName(section)}${SEPARATOR}${encodeName(id)}${SUFFIX}`;
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
