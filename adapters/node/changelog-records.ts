import type { OutgoingRecord } from "../../core/index.js";

/**
 * Characters of snapshot text per changelog record: well below the broker's 1 MiB record limit
 * (`message.max.bytes`) even if every character took 3 bytes of UTF-8.
 */
export const PART_CHARS = 300_000;

/** The first line of a changelog record; the snapshot text (or its part) follows the newline. */
interface Header {
  id: string;
  /** This record's part of the snapshot, from 0, and how many parts it has. */
  part: number;
  parts: number;
}

/**
 * A section's snapshot as changelog records: one, or several parts of at most
 * {@link PART_CHARS} characters keyed `<section>#<part>`, so that no record is too large for the
 * broker. Compaction keeps the newest record per key; a part left over from an older, longer
 * snapshot carries the older id and is ignored.
 *
 * @example
 * snapshotRecords("g-changelog", "g/3", 3, "g-17", text); // [{ topic, key: "g/3", value, partition: 3 }]
 */
export function snapshotRecords(
  topic: string,
  section: string,
  partition: number,
  id: string,
  snapshot: string,
): OutgoingRecord[] {
  const parts = Math.max(1, Math.ceil(snapshot.length / PART_CHARS));
  const out: OutgoingRecord[] = [];
  for (let part = 0; part < parts; part++) {
    const header: Header = { id, part, parts };
    out.push({
      topic,
      key: parts === 1 ? section : `${section}#${part}`,
      value: `${JSON.stringify(header)}\n${snapshot.slice(part * PART_CHARS, (part + 1) * PART_CHARS)}`,
      partition,
    });
  }
  return out;
}

/**
 * Collects snapshots from changelog records read in log order, holding little: per section
 * the last `keep` complete snapshots (a restore wants the newest, or, after a crash between a
 * `put` and the commit naming it, the one before), plus the snapshots asked for by id. Until
 * compaction runs, a changelog holds many full snapshots per section; they are read past, not
 * kept.
 */
export class SnapshotCollector {
  private readonly recent = new Map<string, { id: string; snapshot: string }[]>();
  private readonly found = new Map<string, string>();
  /** Parts of the snapshot being assembled, per section (parts of one id are consecutive). */
  private readonly assembling = new Map<string, { id: string; parts: string[]; have: number }>();

  constructor(
    private readonly wanted: ReadonlyMap<string, string> = new Map(),
    private readonly keep = 2,
  ) {}

  add(key: string, value: string): void {
    const nl = value.indexOf("\n");
    // Before parts, a record was one JSON object `{ id, snapshot }`.
    const legacy = nl < 0 ? (JSON.parse(value) as { id: string; snapshot: string }) : undefined;
    const header: Header = legacy ? { id: legacy.id, part: 0, parts: 1 } : JSON.parse(value.slice(0, nl));
    const body = legacy ? legacy.snapshot : value.slice(nl + 1);
    if (header.parts <= 1) {
      this.complete(key, header.id, body);
      return;
    }
    const section = key.slice(0, -`#${header.part}`.length);
    let a = this.assembling.get(section);
    if (!a || a.id !== header.id) this.assembling.set(section, (a = { id: header.id, parts: [], have: 0 }));
    if (a.parts[header.part] === undefined) a.have++;
    a.parts[header.part] = body;
    if (a.have === header.parts) {
      this.assembling.delete(section);
      this.complete(section, header.id, a.parts.join(""));
    }
  }

  /** A snapshot seen, if it was asked for or is among the section's last ones. */
  get(section: string, id: string): string | undefined {
    return (
      this.found.get(`${section}\u0000${id}`) ?? this.recent.get(section)?.find((s) => s.id === id)?.snapshot
    );
  }

  private complete(section: string, id: string, snapshot: string): void {
    if (this.wanted.get(section) === id) this.found.set(`${section}\u0000${id}`, snapshot);
    const list = (this.recent.get(section) ?? []).filter((s) => s.id !== id);
    list.push({ id, snapshot });
    if (list.length > this.keep) list.shift();
    this.recent.set(section, list);
  }
}
