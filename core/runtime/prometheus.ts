import { RivuletError } from "../errors.js";
import type { JobMetrics } from "./job.js";

export type MetricLabels = Readonly<Record<string, string>>;

type Kind = "counter" | "gauge";
type Sample = readonly [labels: MetricLabels, value: number];

const RECORDS: readonly [keyof JobMetrics["records"], string, string][] = [
  ["in", "rivulet_records_in_total", "Records read from the source topics."],
  ["emitted", "rivulet_records_emitted_total", "Records read that reached a sink."],
  ["filtered", "rivulet_records_filtered_total", "Records read that a filter dropped."],
  [
    "aggregated",
    "rivulet_records_aggregated_total",
    "Records read that were absorbed into a window, a join buffer or keyed state.",
  ],
  ["late", "rivulet_records_late_total", "Records read that arrived after their window closed."],
  ["deadLettered", "rivulet_records_dead_lettered_total", "Records read that went to the dead-letter topic."],
];

/**
 * A job's metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * @example
 * import { prometheusText } from "rivulet";
 * res.end(prometheusText(job.metrics(), { job: "clicks-per-minute" }));
 */
export function prometheusText(metrics: JobMetrics, labels: MetricLabels = {}): string {
  for (const name of Object.keys(labels)) checkLabelName(name);
  const out: string[] = [];
  const family = (name: string, kind: Kind, help: string, samples: readonly Sample[]) => {
    out.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${kind}`);
    for (const [own, value] of samples)
      out.push(`${name}${labelSet({ ...labels, ...own })} ${number(value)}`);
  };
  const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [[{}, value]]);

  for (const [field, name, help] of RECORDS) family(name, "counter", help, one(metrics.records[field]));
  family("rivulet_windows_fired_total", "counter", "Window firings (a late update fires again).", [
    [{}, metrics.windowsFired],
  ]);
  family(
    "rivulet_records_produced_total",
    "counter",
    "Records written per topic (sinks, late outputs, dead letters).",
    Object.entries(metrics.produced).map(([topic, n]) => [{ topic }, n]),
  );
  family(
    "rivulet_watermark_ms",
    "gauge",
    "Event-time progress of the job (epoch ms): the smallest watermark over its operators' inputs.",
    [[{}, metrics.watermark]],
  );
  const parts = metrics.partitions;
  const tp = (p: (typeof parts)[number]) => ({ topic: p.topic, partition: String(p.partition) });
  family(
    "rivulet_partition_lag",
    "gauge",
    "Records in a source partition not yet read.",
    parts.map((p) => [tp(p), p.lag]),
  );
  family(
    "rivulet_partition_offset",
    "gauge",
    "Next offset the job reads in a source partition.",
    parts.flatMap((p): Sample[] => (p.offset === undefined ? [] : [[tp(p), p.offset]])),
  );
  family(
    "rivulet_partition_watermark_ms",
    "gauge",
    "Watermark of a source partition (epoch ms); the smallest over the sources that read it.",
    parts.flatMap((p): Sample[] =>
      p.watermarks.length === 0 ? [] : [[tp(p), Math.min(...p.watermarks.map((w) => w.watermark))]],
    ),
  );
  family(
    "rivulet_partition_idle",
    "gauge",
    "1 when every source reading the partition considers it idle (it no longer holds the watermark back).",
    parts.flatMap((p): Sample[] =>
      p.watermarks.length === 0 ? [] : [[tp(p), p.watermarks.every((w) => w.idle) ? 1 : 0]],
    ),
  );
  family("rivulet_checkpoints_total", "counter", "Checkpoints committed.", [[{}, metrics.checkpoints.count]]);
  family(
    "rivulet_last_checkpoint_duration_ms",
    "gauge",
    "Time the last checkpoint took (snapshot, store, commit).",
    one(metrics.checkpoints.lastDurationMs),
  );
  family(
    "rivulet_last_checkpoint_time_ms",
    "gauge",
    "When the last checkpoint was taken (the job's clock, epoch ms).",
    one(metrics.checkpoints.lastAt),
  );
  family(
    "rivulet_job_status",
    "gauge",
    "1 for the job's current status.",
    (["starting", "running", "draining", "stopped", "failed"] as const).map((s) => [
      { status: s },
      metrics.status === s ? 1 : 0,
    ]),
  );
  return `${out.join("\n")}\n`;
}

/** Throws on a label name Prometheus would reject (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__` reserved). */
export function checkMetricLabels(labels: MetricLabels): void {
  for (const name of Object.keys(labels)) checkLabelName(name);
}

function checkLabelName(name: string): void {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith("__"))
    throw new RivuletError("INVALID_ARGUMENT", `"${name}" is not a valid Prometheus label name`);
}

function labelSet(labels: MetricLabels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Label values escape backslash, double quote and line feed (the format's three escapes). */
function escapeLabel(value: string): string {
  return String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function number(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}
