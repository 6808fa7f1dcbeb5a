package rivulet.bench;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * q1 end to end through Kafka (bench/kafka.ts's flink path): KafkaSource over the JSON input topic
 * (bounded at its end offsets, from the earliest), JSON parsed with Jackson, bids kept, q1's
 * projection, JSON out through KafkaSink at-least-once or exactly-once, checkpoints every
 * `checkpoint-ms`, parallelism 1, object reuse on. A warm-up job over `warm-topic` first, in this
 * JVM; then the timed job, from its submission (the MiniCluster already started) to its end
 * (exactly-once: the final checkpoint has committed the last transaction).
 *
 *   kafka-q1 --bootstrap=H:P --topic=T --out=O --warm-topic=W --warm-out=WO --group=G
 *            --guarantee=at-least-once|exactly-once [--checkpoint-ms=100]
 */
final class KafkaQ1 {
  private KafkaQ1() {}

  /** The event as JSON.stringify writes it; only the bid matters to q1. */
  public static class EventJson {
    public String kind;
    public long timestamp;
    public Bid bid;
  }

  /** q1's output row, in Rivulet's field order. */
  @JsonPropertyOrder({"auction", "bidder", "price", "dateTime", "extra"})
  public static class Q1Out {
    public long auction;
    public long bidder;
    public double price;
    public long dateTime;
    public String extra;
  }

  static final class Parse implements DeserializationSchema<EventJson> {
    private transient ObjectMapper mapper;

    @Override
    public void open(InitializationContext context) {
      mapper = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    }

    @Override
    public EventJson deserialize(byte[] message) throws java.io.IOException {
      return mapper.readValue(message, EventJson.class);
    }

    @Override
    public boolean isEndOfStream(EventJson next) {
      return false;
    }

    @Override
    public TypeInformation<EventJson> getProducedType() {
      return TypeInformation.of(EventJson.class);
    }
  }

  static final class Write implements SerializationSchema<Q1Out> {
    private transient ObjectMapper mapper;

    @Override
    public void open(InitializationContext context) {
      mapper = new ObjectMapper();
    }

    @Override
    public byte[] serialize(Q1Out r) {
      try {
        return mapper.writeValueAsBytes(r);
      } catch (java.io.IOException e) {
        throw new RuntimeException(e);
      }
    }
  }

  private static JobClient submit(Map<String, String> o, String topic, String out, String group) throws Exception {
    StreamExecutionEnvironment env = Main.environment();
    env.enableCheckpointing(Long.parseLong(o.getOrDefault("checkpoint-ms", "100")));
    String bootstrap = o.get("bootstrap");
    boolean exactlyOnce = "exactly-once".equals(o.get("guarantee"));
    KafkaSource<EventJson> source = KafkaSource.<EventJson>builder()
        .setBootstrapServers(bootstrap)
        .setTopics(topic)
        .setGroupId(group)
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setBounded(OffsetsInitializer.latest())
        .setValueOnlyDeserializer(new Parse())
        .setProperty("isolation.level", "read_committed")
        .build();
    Properties producer = new Properties();
    // Under the broker's transaction.max.timeout.ms (15 min); Flink's default is 1 h.
    producer.setProperty("transaction.timeout.ms", "60000");
    producer.setProperty("acks", "all");
    KafkaSink<Q1Out> sink = KafkaSink.<Q1Out>builder()
        .setBootstrapServers(bootstrap)
        .setKafkaProducerConfig(producer)
        .setRecordSerializer(
            KafkaRecordSerializationSchema.<Q1Out>builder().setTopic(out).setValueSerializationSchema(new Write()).build())
        .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
        .setTransactionalIdPrefix(group)
        .build();
    env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka")
        .filter(e -> "bid".equals(e.kind))
        .map(e -> {
          Q1Out r = new Q1Out();
          Bid b = e.bid;
          r.auction = b.auction;
          r.bidder = b.bidder;
          r.price = Queries.EURO_RATE * b.price;
          r.dateTime = b.dateTime;
          r.extra = b.extra;
          return r;
        })
        .returns(Q1Out.class)
        .sinkTo(sink);
    return env.executeAsync("kafka q1 " + o.get("guarantee"));
  }

  static void main(Map<String, String> o) throws Exception {
    String group = o.get("group");
    submit(o, o.get("warm-topic"), o.get("warm-out"), group + "-warm").getJobExecutionResult().get();
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    JobClient job = submit(o, o.get("topic"), o.get("out"), group);
    long submitted = System.nanoTime();
    job.getJobExecutionResult().get();
    long t1 = System.nanoTime();
    long cpu1 = os.getProcessCpuTime();
    System.out.println(
        String.format(
            Locale.ROOT,
            "{\"ms\":%.1f,\"submit_ms\":%.1f,\"client_cpu\":%.2f}",
            (t1 - submitted) / 1e6,
            (submitted - t0) / 1e6,
            (double) (cpu1 - cpu0) / (t1 - t0)));
  }
}
