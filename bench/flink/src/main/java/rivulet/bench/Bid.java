package rivulet.bench;

/** A Nexmark bid (core/testing/nexmark.ts); price in cents. */
public class Bid {
  public long auction;
  public long bidder;
  public long price;
  public String channel;
  public String url;
  public long dateTime;
  public String extra;

  public Bid() {}
}
