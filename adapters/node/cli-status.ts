/**
 * The console of `rivulet run`: messages and the status line on stderr, and the closing
 * accounting. Shared by a single process and the parent of `--workers` (cli-workers.ts).
 *
 * @example
 * const out = new StatusWriter(io);
 * const status = new StatusLine(() => job.metrics(), Date.now(), true);
 * out.status(status.line());
 *
 * @module
 */
import type { JobMetrics } from "../../core/index.js";

/** Where the console writes (stderr of the CLI's io). */
export interface ConsoleIo {
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/** One line accounting for every record read. */
export function accounting(m: JobMetrics): string {
  const r = m.records;
  const produced = Object.entries(m.produced)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ");
  return `${r.in} in = ${r.emitted} emitted + ${r.filtered} filtered + ${r.aggregated} aggregated + ${r.late} late + ${r.deadLettered} dead-lettered; written: ${produced || "nothing"}; ${m.checkpoints.count} checkpoints`;
}

/** Writes messages and the status line to stderr: rewritten in place on a terminal, else lines. */
export class StatusWriter {
  readonly tty: boolean;
  private shown = false;

  constructor(private readonly io: ConsoleIo) {
    this.tty = io.stderr.isTTY === true;
  }

  say(text: string): void {
    this.clear();
    this.io.stderr.write(`${text}\n`);
  }

  /** Shows the status line; `keep` leaves it on screen (a terminal rewrites it otherwise). */
  status(text: string, keep = false): void {
    if (!this.tty) {
      this.io.stderr.write(`${text}\n`);
      return;
    }
    const width = this.io.stderr.columns ?? 120;
    this.io.stderr.write(`\r\x1b[2K${text.length >= width ? `${text.slice(0, width - 2)}…` : text}`);
    this.shown = !keep;
    if (keep) this.io.stderr.write("\n");
  }

  end(): void {
    this.clear();
  }

  private clear(): void {
    if (this.shown) this.io.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}

/** Rates since the previous line, and the job's progress. */
export class StatusLine {
  private last: { at: number; in: number; out: number };

  constructor(
    private readonly metrics: () => JobMetrics,
    now: number,
    private readonly checkpoints: boolean,
  ) {
    this.last = { at: now, in: 0, out: 0 };
  }

  line(now = Date.now()): string {
    const m = this.metrics();
    const written = Object.values(m.produced).reduce((a, b) => a + b, 0);
    const secs = Math.max(0.001, (now - this.last.at) / 1000);
    const rateIn = (m.records.in - this.last.in) / secs;
    const rateOut = (written - this.last.out) / secs;
    this.last = { at: now, in: m.records.in, out: written };
    const lag = m.partitions.reduce((s, p) => s + p.lag, 0);
    const cp = !this.checkpoints
      ? "off"
      : m.checkpoints.lastAt === undefined
        ? "none yet"
        : `${age(now - m.checkpoints.lastAt)} ago`;
    return `[${m.status}] in ${fmtRate(rateIn)}/s (${m.records.in}) | out ${fmtRate(rateOut)}/s (${written}) | lag ${lag} | watermark ${isoTime(m.watermark)} | checkpoint ${cp}`;
  }
}

function fmtRate(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

function age(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function isoTime(t: number): string {
  if (t === Number.NEGATIVE_INFINITY || Number.isNaN(t)) return "-";
  if (t === Number.POSITIVE_INFINITY) return "end";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}
