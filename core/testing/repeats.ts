import { ID_HEADER } from "../broker/records.js";
import { RivuletError } from "../errors.js";
import { encodeSnapshot } from "../state/codec.js";
import type { StoredRecord } from "../types.js";

/**
 * What a reader of an at-least-once job's output does: keeps the first record of each
 * `rivulet.id` and drops the repeats, checking that every repeat is the same record (key, value,
 * timestamp, headers) as the first. Records without an id are all kept.
 *
 * @example
 * const out = dropRepeats(await broker.records("clicks-per-minute"));
 */
export function dropRepeats<V>(records: readonly StoredRecord<V>[]): StoredRecord<V>[] {
  const seen = new Map<string, string>();
  const out: StoredRecord<V>[] = [];
  for (const r of records) {
    const id = r.headers[ID_HEADER];
    if (id === undefined) {
      out.push(r);
      continue;
    }
    const body = encodeSnapshot([r.key, r.value, r.timestamp, r.headers]);
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, body);
      out.push(r);
    } else if (first !== body)
      throw new RivuletError(
        "INVALID_ARGUMENT",
        `record ${r.topic}[${r.partition}]@${r.offset} repeats id "${id}" with other contents: ${body} (first: ${first})`,
      );
  }
  return out;
}
