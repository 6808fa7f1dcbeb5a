package rivulet.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The Flink side of bench/run.ts --flink. Each mode prints its result as one JSON line on stdout.
 *
 *   check [--first=1000] [--n=1000000] [--seed=42]
 *       the first `first` events as JSON (JSON.stringify's shape), one per line, then
 *       {"n":N,"checksum":H}: FNV-1a (32 bit) over the UTF-16 units of the first N events' JSON, each
 *       followed by "\n". bench/flink.ts computes the same from the TypeScript generator.
 *   query --query=q5 --events=N [--warmup=200000] [--seed=42] [--source=generator|array] [--repeat=1]
 *       Nexmark query q on a local MiniCluster (parallelism 1, object reuse on): a warm-up job over
 *       `warmup` events, then the timed job over N, events generated as the source is read and
 *       outputs counted and dropped. Timed from the job's (warmup+1)-th event (min(warmup, N/2)) to
 *       the end of the sink's input, as Rivulet's engine_with_generation_eps is. With
 *       --source=array the N events are generated up front into an array (then a full GC), and the
 *       same source hands out its elements instead of generating them: "without generation", as
 *       Rivulet's engine_preloaded_eps. --repeat=R runs the timed job R times in the same JVM and keeps
 *       the best (samples: each one's events per second).
 *   generate [--n=10000000] [--seed=42] [--rounds=5]
 *       the generator alone: n events made and dropped per round (after a round of warm-up), the
 *       best round's events per second (what generation costs inside Flink's figures).
 *   kafka-q1 ... (KafkaQ1)
 */
public final class Main {
  private Main() {}

  /** The index at which the timed job's clock starts (set before the job), and when it was read. */
  static volatile long markIndex = -1;

  static volatile long markNanos;

  /** --source=array: the events, made before any job starts. */
  static Event[] preloaded;

  static Map<String, String> options(String[] args) {
    Map<String, String> o = new HashMap<>();
    for (String a : args) {
      if (!a.startsWith("--")) continue;
      int eq = a.indexOf('=');
      if (eq < 0) o.put(a.substring(2), "true");
      else o.put(a.substring(2, eq), a.substring(eq + 1));
    }
    return o;
  }

  /** A local environment, parallelism 1, object reuse on, everything on 127.0.0.1. */
  static StreamExecutionEnvironment environment() {
    Configuration conf = new Configuration();
    conf.set(PipelineOptions.OBJECT_REUSE, true);
    conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
    conf.set(RestOptions.ADDRESS, "127.0.0.1");
    conf.set(JobManagerOptions.ADDRESS, "127.0.0.1");
    conf.set(TaskManagerOptions.HOST, "127.0.0.1");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
    env.setParallelism(1);
    return env;
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) throw new IllegalArgumentException("usage: check | query | kafka-q1 (see Main.java)");
    Map<String, String> o = options(args);
    switch (args[0]) {
      case "check":
        check(o);
        break;
      case "query":
        query(o);
        break;
      case "generate":
        generate(o);
        break;
      case "kafka-q1":
        KafkaQ1.main(o);
        break;
      default:
        throw new IllegalArgumentException("unknown mode " + args[0]);
    }
    System.exit(0);
  }

  private static void check(Map<String, String> o) {
    int first = Integer.parseInt(o.getOrDefault("first", "1000"));
    long n = Long.parseLong(o.getOrDefault("n", "1000000"));
    NexmarkGenerator gen = new NexmarkGenerator(Long.parseLong(o.getOrDefault("seed", "42")));
    StringBuilder lines = new StringBuilder();
    int h = 0x811c9dc5;
    for (long i = 0; i < Math.max(n, first); i++) {
      String json = gen.event(i).toJson();
      if (i < first) lines.append(json).append('\n');
      if (i < n) {
        for (int k = 0; k < json.length(); k++) h = (h ^ json.charAt(k)) * 0x01000193;
        h = (h ^ '\n') * 0x01000193;
      }
    }
    System.out.print(lines);
    System.out.println("{\"n\":" + n + ",\"checksum\":" + (h & 0xffffffffL) + "}");
  }

  private static void generate(Map<String, String> o) {
    long n = Long.parseLong(o.getOrDefault("n", "10000000"));
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "5"));
    NexmarkGenerator gen = new NexmarkGenerator(Long.parseLong(o.getOrDefault("seed", "42")));
    long sink = 0;
    double best = 0;
    StringBuilder all = new StringBuilder();
    for (int r = 0; r <= rounds; r++) {
      long t = System.nanoTime();
      for (long i = 0; i < n; i++) sink += gen.event(i).timestamp;
      double eps = n / ((System.nanoTime() - t) / 1e9);
      if (r == 0) continue; // warm-up
      best = Math.max(best, eps);
      all.append(all.length() == 0 ? "" : ",").append(String.format(java.util.Locale.ROOT, "%.0f", eps));
    }
    System.out.println(
        String.format(java.util.Locale.ROOT, "{\"n\":%d,\"eps\":%.0f,\"rounds\":[%s],\"sink\":%d}", n, best, all, sink));
  }

  private static long run(String q, long n, long seed) throws Exception {
    StreamExecutionEnvironment env = environment();
    GeneratorFunction<Long, Event> timed;
    if (preloaded != null) {
      timed = index -> {
        if (index == markIndex) markNanos = System.nanoTime();
        return preloaded[(int) (long) index];
      };
    } else {
      NexmarkGenerator gen = new NexmarkGenerator(seed);
      timed = index -> {
        if (index == markIndex) markNanos = System.nanoTime();
        return gen.map(index);
      };
    }
    DataGeneratorSource<Event> source = new DataGeneratorSource<>(timed, n, TypeInformation.of(Event.class));
    DataStream<Event> events = env.fromSource(
        source,
        WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofSeconds(4))
            .withTimestampAssigner((e, ts) -> e.timestamp),
        "nexmark");
    @SuppressWarnings({"unchecked", "rawtypes"})
    DataStream<Object> out = (DataStream) Queries.build(q, events);
    out.sinkTo(new CountingSink<>()).name("blackhole");
    CountingSink.COUNT.set(0);
    CountingSink.endNanos = 0;
    env.execute("nexmark " + q);
    return CountingSink.COUNT.get();
  }

  private static void query(Map<String, String> o) throws Exception {
    String q = o.get("query");
    long n = Long.parseLong(o.get("events"));
    long warmup = Long.parseLong(o.getOrDefault("warmup", "200000"));
    long seed = Long.parseLong(o.getOrDefault("seed", "42"));
    String sourceKind = o.getOrDefault("source", "generator");
    double preloadMs = 0;
    if (sourceKind.equals("array")) {
      if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("--source=array: at most 2^31-1 events");
      long tp = System.nanoTime();
      NexmarkGenerator gen = new NexmarkGenerator(seed);
      Event[] events = new Event[(int) n];
      for (int i = 0; i < events.length; i++) events[i] = gen.event(i);
      preloaded = events;
      preloadMs = (System.nanoTime() - tp) / 1e6;
      // The events live in the old generation from here on; the jobs start on a compacted heap.
      System.gc();
    } else if (!sourceKind.equals("generator")) {
      throw new IllegalArgumentException("--source must be generator or array, got " + sourceKind);
    }
    // Warm-up job: the JIT, class loading and the MiniCluster's first start stay out of the figure.
    long warmN = Math.min(warmup, n);
    markIndex = -1;
    long t = System.nanoTime();
    run(q, warmN, seed);
    double warmMs = (System.nanoTime() - t) / 1e6;
    long mark = Math.min(warmup, n / 2);
    int repeat = Integer.parseInt(o.getOrDefault("repeat", "1"));
    double bestMs = Double.MAX_VALUE;
    double bestWholeMs = Double.MAX_VALUE;
    long outputs = -1;
    StringBuilder all = new StringBuilder();
    for (int r = 0; r < repeat; r++) {
      markIndex = mark;
      markNanos = 0;
      long t0 = System.nanoTime();
      long out = run(q, n, seed);
      long t1 = System.nanoTime();
      if (markNanos == 0 || CountingSink.endNanos == 0) throw new IllegalStateException(q + ": no timing marks");
      if (outputs >= 0 && out != outputs) throw new IllegalStateException(q + ": outputs differ between repeats");
      outputs = out;
      double ms = (CountingSink.endNanos - markNanos) / 1e6;
      bestMs = Math.min(bestMs, ms);
      bestWholeMs = Math.min(bestWholeMs, (t1 - t0) / 1e6);
      all.append(all.length() == 0 ? "" : ",").append(String.format(java.util.Locale.ROOT, "%.0f", (n - mark) / ms * 1000));
    }
    System.out.println(
        String.format(
            java.util.Locale.ROOT,
            "{\"query\":\"%s\",\"source\":\"%s\",\"events\":%d,\"eps\":%.0f,\"ms\":%.1f,\"whole_eps\":%.0f,\"outputs\":%d,\"warmup_ms\":%.0f,\"preload_ms\":%.0f,\"samples\":[%s]}",
            q,
            sourceKind,
            n,
            (n - mark) / bestMs * 1000,
            bestMs,
            n / bestWholeMs * 1000,
            outputs,
            warmMs,
            preloadMs,
            all));
  }
}
