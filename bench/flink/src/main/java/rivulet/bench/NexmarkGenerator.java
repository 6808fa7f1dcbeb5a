package rivulet.bench;

import java.io.Serializable;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * A port of core/testing/nexmark.ts and nexmark-model.ts with their defaults (Beam's): event
 * `index` gets the same kind, ids, timestamp and fields as `nexmarkEvent({ seed }, index)` in
 * TypeScript, the draws in the same order. Only outOfOrderGroupSize 1 and firstEventId 0 (what the
 * bench uses). As a Flink GeneratorFunction it makes each event as the source is read.
 */
public final class NexmarkGenerator implements GeneratorFunction<Long, Event>, Serializable {
  private static final long serialVersionUID = 1L;

  static final long FIRST_PERSON_ID = 1000;
  static final long FIRST_AUCTION_ID = 1000;
  static final long FIRST_CATEGORY_ID = 10;
  private static final int NUM_CATEGORIES = 5;
  private static final long HOT_SELLER_RATIO = 100;
  private static final long HOT_AUCTION_RATIO = 100;
  private static final long HOT_BIDDER_RATIO = 100;
  private static final String[] US_STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  private static final String[] US_CITIES = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent",
    "Cheyenne"
  };
  private static final String[] FIRST_NAMES = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"
  };
  private static final String[] LAST_NAMES = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"
  };
  private static final String[] HOT_CHANNELS = {"Google", "Facebook", "Baidu", "Apple"};
  private static final int CHANNELS_NUMBER = 10_000;

  // NEXMARK_DEFAULTS
  private static final long PERSON_PROPORTION = 1;
  private static final long AUCTION_PROPORTION = 3;
  private static final long TOTAL_PROPORTION = 50;
  private static final long HOT_AUCTION_RATIO_CFG = 2;
  private static final long HOT_SELLERS_RATIO_CFG = 4;
  private static final long HOT_BIDDERS_RATIO_CFG = 4;
  private static final long NUM_ACTIVE_PEOPLE = 1000;
  private static final long NUM_IN_FLIGHT_AUCTIONS = 100;
  private static final int AVG_PERSON_BYTE_SIZE = 200;
  private static final int AVG_AUCTION_BYTE_SIZE = 500;
  private static final int AVG_BID_BYTE_SIZE = 100;
  private static final long PERSON_ID_LEAD = 10;
  private static final long AUCTION_ID_LEAD = 10;
  /** Date.UTC(2026, 0, 1). */
  static final long BASE_TIME = 1767225600000L;
  private static final double INTER_EVENT_DELAY_US = 1_000_000.0 / 10_000;
  private static final long NUM_EVENTS_FOR_AUCTIONS =
      (NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION) / AUCTION_PROPORTION;

  private final long seed;
  private transient NexmarkRandom rnd;
  private transient String[] hotUrls;
  private transient String[] channelNames;
  private transient String[] channelUrls;

  public NexmarkGenerator(long seed) {
    this.seed = seed;
  }

  @Override
  public Event map(Long index) {
    return event(index);
  }

  private NexmarkRandom rnd() {
    if (rnd == null) rnd = new NexmarkRandom();
    return rnd;
  }

  static long timestampForEvent(long eventNumber) {
    return BASE_TIME + (long) Math.floor(Math.floor(eventNumber * INTER_EVENT_DELAY_US) / 1000);
  }

  static long lastBase0PersonId(long eventId) {
    long epoch = eventId / TOTAL_PROPORTION;
    long offset = eventId - epoch * TOTAL_PROPORTION;
    if (offset >= PERSON_PROPORTION) offset = PERSON_PROPORTION - 1;
    return epoch * PERSON_PROPORTION + offset;
  }

  static long lastBase0AuctionId(long eventId) {
    long epoch = eventId / TOTAL_PROPORTION;
    long offset = eventId - epoch * TOTAL_PROPORTION;
    if (offset < PERSON_PROPORTION) {
      epoch--;
      offset = AUCTION_PROPORTION - 1;
    } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
      offset = AUCTION_PROPORTION - 1;
    } else {
      offset -= PERSON_PROPORTION;
    }
    return epoch * AUCTION_PROPORTION + offset;
  }

  private long nextBase0PersonId(long eventId) {
    long numPeople = lastBase0PersonId(eventId) + 1;
    long active = Math.min(numPeople, NUM_ACTIVE_PEOPLE);
    return numPeople - active + rnd.nextLong(active + PERSON_ID_LEAD);
  }

  private long nextBase0AuctionId(long eventId) {
    long maxAuction = lastBase0AuctionId(eventId);
    long minAuction = Math.max(maxAuction - NUM_IN_FLIGHT_AUCTIONS, 0);
    return minAuction + rnd.nextLong(maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
  }

  private static String pad4(long x) {
    String s = Long.toString(x);
    return "0000".substring(s.length()) + s;
  }

  private String nextCreditCard() {
    StringBuilder sb = new StringBuilder(19).append(pad4(rnd.nextInt(10000)));
    for (int i = 1; i < 4; i++) sb.append(' ').append(pad4(rnd.nextInt(10000)));
    return sb.toString();
  }

  private Person nextPerson(long eventId, long timestamp) {
    Person p = new Person();
    p.id = lastBase0PersonId(eventId) + FIRST_PERSON_ID;
    String first = FIRST_NAMES[(int) rnd.nextInt(FIRST_NAMES.length)];
    p.name = first + " " + LAST_NAMES[(int) rnd.nextInt(LAST_NAMES.length)];
    String user = rnd.nextString(7);
    p.emailAddress = user + "@" + rnd.nextString(5) + ".com";
    p.creditCard = nextCreditCard();
    p.city = US_CITIES[(int) rnd.nextInt(US_CITIES.length)];
    p.state = US_STATES[(int) rnd.nextInt(US_STATES.length)];
    int currentSize =
        8 + p.name.length() + p.emailAddress.length() + p.creditCard.length() + p.city.length() + p.state.length();
    p.dateTime = timestamp;
    p.extra = rnd.nextExtra(currentSize, AVG_PERSON_BYTE_SIZE);
    return p;
  }

  private Auction nextAuction(long eventId, long eventNumber, long timestamp) {
    Auction a = new Auction();
    a.id = lastBase0AuctionId(eventId) + FIRST_AUCTION_ID;
    long seller;
    if (rnd.nextInt(HOT_SELLERS_RATIO_CFG) > 0) {
      seller = (lastBase0PersonId(eventId) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO;
    } else {
      seller = nextBase0PersonId(eventId);
    }
    a.seller = seller + FIRST_PERSON_ID;
    a.category = FIRST_CATEGORY_ID + rnd.nextInt(NUM_CATEGORIES);
    a.initialBid = rnd.nextPrice();
    long horizonMs = timestampForEvent(eventNumber + NUM_EVENTS_FOR_AUCTIONS) - timestamp;
    a.expires = timestamp + 1 + rnd.nextLong(Math.max(horizonMs * 2, 1));
    a.itemName = rnd.nextString(20);
    a.description = rnd.nextString(100);
    a.reserve = a.initialBid + rnd.nextPrice();
    int currentSize = 8 + a.itemName.length() + a.description.length() + 8 + 8 + 8 + 8 + 8;
    a.dateTime = timestamp;
    a.extra = rnd.nextExtra(currentSize, AVG_AUCTION_BYTE_SIZE);
    return a;
  }

  private String baseUrl() {
    String a = rnd.nextString(5, '_');
    String b = rnd.nextString(5, '_');
    String c = rnd.nextString(5, '_');
    return "https://www.nexmark.com/" + a + "/" + b + "/" + c + "/item.htm?query=1";
  }

  /** Channel and url tables from a fixed seed, as nexmark-model.ts's buildChannels. */
  private void buildChannels() {
    int saved = rnd.save();
    rnd.seed(0x6368616e, 0x6e656c);
    hotUrls = new String[HOT_CHANNELS.length];
    for (int i = 0; i < HOT_CHANNELS.length; i++) hotUrls[i] = baseUrl();
    channelNames = new String[CHANNELS_NUMBER];
    channelUrls = new String[CHANNELS_NUMBER];
    for (int i = 0; i < CHANNELS_NUMBER; i++) {
      String url = baseUrl();
      // Math.abs(Integer.reverse(i)), with 2^31 staying positive as in the TypeScript.
      if (rnd.nextInt(10) > 0) url += "&channel_id=" + Math.abs((long) Integer.reverse(i));
      channelNames[i] = "channel-" + i;
      channelUrls[i] = url;
    }
    rnd.restore(saved);
  }

  private Bid nextBid(long eventId, long timestamp) {
    Bid b = new Bid();
    long auction;
    if (rnd.nextInt(HOT_AUCTION_RATIO_CFG) > 0) {
      auction = (lastBase0AuctionId(eventId) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO;
    } else {
      auction = nextBase0AuctionId(eventId);
    }
    b.auction = auction + FIRST_AUCTION_ID;
    long bidder;
    if (rnd.nextInt(HOT_BIDDERS_RATIO_CFG) > 0) {
      long last = lastBase0PersonId(eventId);
      bidder = Math.min((last / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1, last + PERSON_ID_LEAD);
    } else {
      bidder = nextBase0PersonId(eventId);
    }
    b.bidder = bidder + FIRST_PERSON_ID;
    b.price = rnd.nextPrice();
    if (rnd.nextInt(2) > 0) {
      int i = (int) rnd.nextInt(HOT_CHANNELS.length);
      if (hotUrls == null) buildChannels();
      b.channel = HOT_CHANNELS[i];
      b.url = hotUrls[i];
    } else {
      int i = (int) rnd.nextInt(CHANNELS_NUMBER);
      if (channelNames == null) buildChannels();
      b.channel = channelNames[i];
      b.url = channelUrls[i];
    }
    b.dateTime = timestamp;
    b.extra = rnd.nextExtra(8 + 8 + 8 + 8, AVG_BID_BYTE_SIZE);
    return b;
  }

  /** The event with ordinal `index`, as nexmark.ts's eventAt (group size 1, first id 0). */
  public Event event(long index) {
    rnd();
    long eventNumber = index;
    long eventId = eventNumber;
    long timestamp = timestampForEvent(eventNumber);
    rnd.seed(seed, eventId);
    long rem = eventId % TOTAL_PROPORTION;
    Event e = new Event();
    e.timestamp = timestamp;
    if (rem < PERSON_PROPORTION) {
      e.kind = Event.PERSON;
      e.person = nextPerson(eventId, timestamp);
    } else if (rem < PERSON_PROPORTION + AUCTION_PROPORTION) {
      e.kind = Event.AUCTION;
      e.auction = nextAuction(eventId, eventNumber, timestamp);
    } else {
      e.kind = Event.BID;
      e.bid = nextBid(eventId, timestamp);
    }
    return e;
  }
}
