package rivulet.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessAllWindowFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Nexmark q0-q8 as Flink DataStream jobs with the semantics of bench/nexmark/queries.ts (the same
 * watermark delay, windows, joins and output rows, so the same output counts): each takes the
 * stream of every event and returns its output stream. Comments name only where Flink's API makes
 * a step look different from Rivulet's.
 */
final class Queries {
  static final Duration Q5_SIZE = Duration.ofSeconds(10);
  static final Duration Q5_SLIDE = Duration.ofSeconds(2);
  static final Duration TEN_S = Duration.ofSeconds(10);
  static final int Q6_LAST = 10;
  static final double EURO_RATE = 0.908;
  static final long Q3_CATEGORY = 10;

  private Queries() {}

  static DataStream<?> build(String q, DataStream<Event> events) {
    switch (q) {
      case "q0":
        return events.filter(e -> e.kind == Event.BID).map(e -> e.bid).returns(Bid.class);
      case "q1":
        return events
            .filter(e -> e.kind == Event.BID)
            .map(e -> new Tuple5<>(e.bid.auction, e.bid.bidder, EURO_RATE * e.bid.price, e.bid.dateTime, e.bid.extra))
            .returns(new TypeHint<Tuple5<Long, Long, Double, Long, String>>() {});
      case "q2":
        return events
            .filter(e -> e.kind == Event.BID && e.bid.auction % 123 == 0)
            .map(e -> Tuple2.of(e.bid.auction, e.bid.price))
            .returns(new TypeHint<Tuple2<Long, Long>>() {});
      case "q3":
        return q3(events);
      case "q4":
        return closedAuctions(events).keyBy(c -> c.category).process(new Q4Average());
      case "q5":
        return q5(events);
      case "q6":
        return closedAuctions(events).keyBy(c -> c.seller).process(new Q6Average());
      case "q7":
        return q7(events);
      case "q8":
        return q8(events);
      default:
        throw new IllegalArgumentException("unknown query " + q);
    }
  }

  // q3 ------------------------------------------------------------------------------------------

  private static boolean local(String state) {
    return state.equals("OR") || state.equals("ID") || state.equals("CA");
  }

  static DataStream<Tuple4<String, String, String, Long>> q3(DataStream<Event> events) {
    return events
        .filter(e -> e.kind == Event.PERSON || (e.kind == Event.AUCTION && e.auction.category == Q3_CATEGORY))
        .keyBy(e -> e.kind == Event.PERSON ? e.person.id : e.auction.seller)
        .process(new Q3Join());
  }

  /** The person is kept whatever its state (Rivulet keeps `false` for others: the same test, read later). */
  static final class Q3Join extends KeyedProcessFunction<Long, Event, Tuple4<String, String, String, Long>> {
    private transient ValueState<Person> seller;
    private transient ListState<Long> waiting;

    @Override
    public void open(OpenContext ctx) {
      seller = getRuntimeContext().getState(new ValueStateDescriptor<>("seller", Person.class));
      waiting = getRuntimeContext().getListState(new ListStateDescriptor<>("waiting", Long.class));
    }

    @Override
    public void processElement(Event e, Context ctx, Collector<Tuple4<String, String, String, Long>> out)
        throws Exception {
      if (e.kind == Event.PERSON) {
        Person p = e.person;
        seller.update(p);
        if (local(p.state)) for (Long id : waiting.get()) out.collect(Tuple4.of(p.name, p.city, p.state, id));
        waiting.clear();
      } else {
        Person p = seller.value();
        if (p == null) waiting.add(e.auction.id);
        else if (local(p.state)) out.collect(Tuple4.of(p.name, p.city, p.state, e.auction.id));
      }
    }
  }

  // q4, q6: closed auctions --------------------------------------------------------------------

  static DataStream<ClosedAuction> closedAuctions(DataStream<Event> events) {
    return events
        .filter(e -> e.kind != Event.PERSON)
        .keyBy(e -> e.kind == Event.AUCTION ? e.auction.id : e.bid.auction)
        .process(new CloseAuctions());
  }

  private static boolean inAuction(Auction a, Bid b) {
    return b.dateTime >= a.dateTime && b.dateTime <= a.expires;
  }

  /** bench/nexmark/queries.ts closedAuctions, state for state and timer for timer. */
  static final class CloseAuctions extends KeyedProcessFunction<Long, Event, ClosedAuction> {
    private transient ValueState<Auction> open;
    private transient ValueState<Long> highest;
    private transient ListState<Bid> early;
    private transient ValueState<Long> earlyCleanup;

    @Override
    public void open(OpenContext ctx) {
      open = getRuntimeContext().getState(new ValueStateDescriptor<>("auction", Auction.class));
      highest = getRuntimeContext().getState(new ValueStateDescriptor<>("highest", Long.class));
      early = getRuntimeContext().getListState(new ListStateDescriptor<>("early", Bid.class));
      earlyCleanup = getRuntimeContext().getState(new ValueStateDescriptor<>("earlyCleanup", Long.class));
    }

    @Override
    public void processElement(Event e, Context ctx, Collector<ClosedAuction> out) throws Exception {
      if (e.kind == Event.AUCTION) {
        Auction a = e.auction;
        open.update(a);
        ctx.timerService().registerEventTimeTimer(a.expires);
        long max = -1;
        for (Bid b : early.get()) if (inAuction(a, b) && b.price > max) max = b.price;
        if (max >= 0) highest.update(max);
        early.clear();
      } else {
        Bid b = e.bid;
        Auction a = open.value();
        if (a != null) {
          if (inAuction(a, b)) {
            Long max = highest.value();
            if (max == null || b.price > max) highest.update(b.price);
          }
          return;
        }
        early.add(b);
        if (earlyCleanup.value() == null) {
          earlyCleanup.update(b.dateTime);
          ctx.timerService().registerEventTimeTimer(b.dateTime);
        }
      }
    }

    @Override
    public void onTimer(long t, OnTimerContext ctx, Collector<ClosedAuction> out) throws Exception {
      Auction a = open.value();
      if (a != null && t >= a.expires) {
        Long max = highest.value();
        if (max != null) {
          ClosedAuction c = new ClosedAuction();
          c.id = a.id;
          c.seller = a.seller;
          c.category = a.category;
          c.expires = a.expires;
          c.fin = max;
          out.collect(c);
        }
        open.clear();
        highest.clear();
      }
      Long cleanup = earlyCleanup.value();
      if (cleanup == null || cleanup != t) return;
      earlyCleanup.clear();
      List<Bid> left = new ArrayList<>();
      long last = t;
      for (Bid b : early.get()) {
        if (b.dateTime > t) {
          left.add(b);
          if (b.dateTime > last) last = b.dateTime;
        }
      }
      early.update(left);
      if (!left.isEmpty()) {
        earlyCleanup.update(last);
        ctx.timerService().registerEventTimeTimer(last);
      }
    }
  }

  /** q4: the running average of each category's closing prices, an update per closed auction. */
  static final class Q4Average extends KeyedProcessFunction<Long, ClosedAuction, Tuple2<Long, Double>> {
    private transient ValueState<Tuple2<Double, Long>> acc;

    @Override
    public void open(OpenContext ctx) {
      acc = getRuntimeContext().getState(new ValueStateDescriptor<>("avg", Types.TUPLE(Types.DOUBLE, Types.LONG)));
    }

    @Override
    public void processElement(ClosedAuction c, Context ctx, Collector<Tuple2<Long, Double>> out) throws Exception {
      Tuple2<Double, Long> a = acc.value();
      a = a == null ? Tuple2.of((double) c.fin, 1L) : Tuple2.of(a.f0 + c.fin, a.f1 + 1);
      acc.update(a);
      out.collect(Tuple2.of(c.category, a.f0 / a.f1));
    }
  }

  /** q6: the average of the seller's last 10 closing prices, on every close. */
  static final class Q6Average extends KeyedProcessFunction<Long, ClosedAuction, Tuple2<Long, Double>> {
    private transient ValueState<long[]> finals;

    @Override
    public void open(OpenContext ctx) {
      finals = getRuntimeContext().getState(new ValueStateDescriptor<>("finals", long[].class));
    }

    @Override
    public void processElement(ClosedAuction c, Context ctx, Collector<Tuple2<Long, Double>> out) throws Exception {
      long[] f = finals.value();
      long[] next;
      if (f == null) next = new long[] {c.fin};
      else if (f.length < Q6_LAST) {
        next = java.util.Arrays.copyOf(f, f.length + 1);
        next[f.length] = c.fin;
      } else {
        next = new long[Q6_LAST];
        System.arraycopy(f, 1, next, 0, Q6_LAST - 1);
        next[Q6_LAST - 1] = c.fin;
      }
      finals.update(next);
      long sum = 0;
      for (long x : next) sum += x;
      out.collect(Tuple2.of(c.seller, (double) sum / next.length));
    }
  }

  // q5 ------------------------------------------------------------------------------------------

  static final class Count implements AggregateFunction<Event, Long, Long> {
    @Override
    public Long createAccumulator() {
      return 0L;
    }

    @Override
    public Long add(Event e, Long acc) {
      return acc + 1;
    }

    @Override
    public Long getResult(Long acc) {
      return acc;
    }

    @Override
    public Long merge(Long a, Long b) {
      return a + b;
    }
  }

  /** (key, count, window end). */
  static final class WithEnd extends ProcessWindowFunction<Long, Tuple3<Long, Long, Long>, Long, TimeWindow> {
    @Override
    public void process(Long key, Context ctx, Iterable<Long> counts, Collector<Tuple3<Long, Long, Long>> out) {
      for (Long n : counts) out.collect(Tuple3.of(key, n, ctx.window().getEnd()));
    }
  }

  static DataStream<Tuple4<Long, Long, Long, Long>> q5(DataStream<Event> events) {
    return events
        .filter(e -> e.kind == Event.BID)
        .keyBy(e -> e.bid.auction)
        .window(SlidingEventTimeWindows.of(Q5_SIZE, Q5_SLIDE))
        .aggregate(new Count(), new WithEnd())
        .keyBy(r -> r.f2)
        .process(new Q5Best());
  }

  /** Per window end: the largest count and its auctions, emitted by a timer at end - 1. */
  static final class Q5Best extends KeyedProcessFunction<Long, Tuple3<Long, Long, Long>, Tuple4<Long, Long, Long, Long>> {
    private transient ValueState<Long> num;
    private transient ListState<Long> auctions;

    @Override
    public void open(OpenContext ctx) {
      num = getRuntimeContext().getState(new ValueStateDescriptor<>("num", Long.class));
      auctions = getRuntimeContext().getListState(new ListStateDescriptor<>("auctions", Long.class));
    }

    @Override
    public void processElement(Tuple3<Long, Long, Long> r, Context ctx, Collector<Tuple4<Long, Long, Long, Long>> out)
        throws Exception {
      Long best = num.value();
      if (best == null) {
        num.update(r.f1);
        auctions.add(r.f0);
        ctx.timerService().registerEventTimeTimer(r.f2 - 1);
      } else if (r.f1 > best) {
        num.update(r.f1);
        auctions.update(List.of(r.f0));
      } else if (r.f1.longValue() == best.longValue()) auctions.add(r.f0);
    }

    @Override
    public void onTimer(long t, OnTimerContext ctx, Collector<Tuple4<Long, Long, Long, Long>> out) throws Exception {
      Long best = num.value();
      if (best == null) return;
      long end = t + 1;
      for (Long a : auctions.get()) out.collect(Tuple4.of(a, best, end - Q5_SIZE.toMillis(), end));
      num.clear();
      auctions.clear();
    }
  }

  // q7 ------------------------------------------------------------------------------------------

  /** The bids with the highest price (all of them on a tie). */
  static final class Highest implements AggregateFunction<Event, List<Bid>, List<Bid>> {
    @Override
    public List<Bid> createAccumulator() {
      return new ArrayList<>();
    }

    @Override
    public List<Bid> add(Event e, List<Bid> acc) {
      Bid b = e.bid;
      long top = acc.isEmpty() ? -1 : acc.get(0).price;
      if (b.price > top) {
        acc.clear();
        acc.add(b);
      } else if (b.price == top) acc.add(b);
      return acc;
    }

    @Override
    public List<Bid> getResult(List<Bid> acc) {
      return acc;
    }

    @Override
    public List<Bid> merge(List<Bid> a, List<Bid> b) {
      if (a.isEmpty()) return b;
      if (b.isEmpty()) return a;
      if (a.get(0).price != b.get(0).price) return a.get(0).price > b.get(0).price ? a : b;
      a.addAll(b);
      return a;
    }
  }

  static final class EmitHighest
      extends ProcessAllWindowFunction<List<Bid>, Tuple5<Long, Long, Long, Long, String>, TimeWindow> {
    @Override
    public void process(Context ctx, Iterable<List<Bid>> results, Collector<Tuple5<Long, Long, Long, Long, String>> out) {
      for (List<Bid> bids : results)
        for (Bid b : bids) out.collect(Tuple5.of(b.auction, b.price, b.bidder, b.dateTime, b.extra));
    }
  }

  static DataStream<Tuple5<Long, Long, Long, Long, String>> q7(DataStream<Event> events) {
    return events
        .filter(e -> e.kind == Event.BID)
        .windowAll(TumblingEventTimeWindows.of(TEN_S))
        .aggregate(
            new Highest(),
            new EmitHighest(),
            TypeInformation.of(new TypeHint<List<Bid>>() {}),
            TypeInformation.of(new TypeHint<List<Bid>>() {}),
            TypeInformation.of(new TypeHint<Tuple5<Long, Long, Long, Long, String>>() {}));
  }

  // q8 ------------------------------------------------------------------------------------------

  /** (person id, name, window start) of the first person event of the key's window. */
  static final class PersonWindow extends ProcessWindowFunction<Event, Tuple3<Long, String, Long>, Long, TimeWindow> {
    @Override
    public void process(Long key, Context ctx, Iterable<Event> first, Collector<Tuple3<Long, String, Long>> out) {
      for (Event e : first) out.collect(Tuple3.of(key, e.person.name, ctx.window().getStart()));
    }
  }

  /** (seller, window start) for a seller with auctions in the window. */
  static final class SellerWindow extends ProcessWindowFunction<Long, Tuple2<Long, Long>, Long, TimeWindow> {
    @Override
    public void process(Long key, Context ctx, Iterable<Long> counts, Collector<Tuple2<Long, Long>> out) {
      out.collect(Tuple2.of(key, ctx.window().getStart()));
    }
  }

  static DataStream<Tuple3<Long, String, Long>> q8(DataStream<Event> events) {
    DataStream<Tuple3<Long, String, Long>> persons = events
        .filter(e -> e.kind == Event.PERSON)
        .keyBy(e -> e.person.id)
        .window(TumblingEventTimeWindows.of(TEN_S))
        .reduce((a, b) -> a, new PersonWindow());
    DataStream<Tuple2<Long, Long>> sellers = events
        .filter(e -> e.kind == Event.AUCTION)
        .keyBy(e -> e.auction.seller)
        .window(TumblingEventTimeWindows.of(TEN_S))
        .aggregate(new Count(), new SellerWindow());
    return persons
        .join(sellers)
        .where(p -> p.f0)
        .equalTo(s -> s.f0)
        .window(TumblingEventTimeWindows.of(TEN_S))
        .apply((p, s) -> p, TypeInformation.of(new TypeHint<Tuple3<Long, String, Long>>() {}));
  }
}
