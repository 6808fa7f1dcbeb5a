package rivulet.bench;

/** One Nexmark event: exactly one of person, auction, bid is set, as `kind` says. */
public class Event {
  public static final int PERSON = 0;
  public static final int AUCTION = 1;
  public static final int BID = 2;

  public int kind;
  public long timestamp;
  public Person person;
  public Auction auction;
  public Bid bid;

  public Event() {}

  /** JSON.stringify of the TypeScript event: the same keys in the same order. */
  public String toJson() {
    StringBuilder sb = new StringBuilder(256);
    sb.append("{\"kind\":\"").append(kind == PERSON ? "person" : kind == AUCTION ? "auction" : "bid");
    sb.append("\",\"timestamp\":").append(timestamp);
    if (kind == PERSON) {
      Person p = person;
      sb.append(",\"person\":{\"id\":").append(p.id);
      str(sb.append(",\"name\":"), p.name);
      str(sb.append(",\"emailAddress\":"), p.emailAddress);
      str(sb.append(",\"creditCard\":"), p.creditCard);
      str(sb.append(",\"city\":"), p.city);
      str(sb.append(",\"state\":"), p.state);
      sb.append(",\"dateTime\":").append(p.dateTime);
      str(sb.append(",\"extra\":"), p.extra);
    } else if (kind == AUCTION) {
      Auction a = auction;
      sb.append(",\"auction\":{\"id\":").append(a.id);
      str(sb.append(",\"itemName\":"), a.itemName);
      str(sb.append(",\"description\":"), a.description);
      sb.append(",\"initialBid\":").append(a.initialBid);
      sb.append(",\"reserve\":").append(a.reserve);
      sb.append(",\"dateTime\":").append(a.dateTime);
      sb.append(",\"expires\":").append(a.expires);
      sb.append(",\"seller\":").append(a.seller);
      sb.append(",\"category\":").append(a.category);
      str(sb.append(",\"extra\":"), a.extra);
    } else {
      Bid b = bid;
      sb.append(",\"bid\":{\"auction\":").append(b.auction);
      sb.append(",\"bidder\":").append(b.bidder);
      sb.append(",\"price\":").append(b.price);
      str(sb.append(",\"channel\":"), b.channel);
      str(sb.append(",\"url\":"), b.url);
      sb.append(",\"dateTime\":").append(b.dateTime);
      str(sb.append(",\"extra\":"), b.extra);
    }
    return sb.append("}}").toString();
  }

  /** A JSON string; the generator makes only printable ASCII, so only quotes and backslashes need escaping. */
  private static void str(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') sb.append('\\');
      sb.append(c);
    }
    sb.append('"');
  }
}
