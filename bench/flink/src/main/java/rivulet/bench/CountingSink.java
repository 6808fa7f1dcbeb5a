package rivulet.bench;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * A discarding sink that counts its records and notes when its input ended (the job runs in this
 * JVM's MiniCluster, so plain static fields carry both back to Main), as Rivulet's blackhole
 * sink (bench/nexmark/generator-broker.ts) counts and drops outputs.
 */
final class CountingSink<T> implements Sink<T> {
  private static final long serialVersionUID = 1L;
  static final AtomicLong COUNT = new AtomicLong();
  static volatile long endNanos;

  @Override
  public SinkWriter<T> createWriter(WriterInitContext context) {
    return new SinkWriter<T>() {
      private long n;

      @Override
      public void write(T element, Context ctx) {
        n++;
      }

      @Override
      public void flush(boolean endOfInput) {
        if (endOfInput) {
          COUNT.addAndGet(n);
          n = 0;
          endNanos = System.nanoTime();
        }
      }

      @Override
      public void close() {
        COUNT.addAndGet(n);
        n = 0;
      }
    };
  }
}
