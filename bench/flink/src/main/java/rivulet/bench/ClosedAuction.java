package rivulet.bench;

/** An auction closed with at least one bid in [dateTime, expires]: q4's and q6's join output. */
public class ClosedAuction {
  public long id;
  public long seller;
  public long category;
  public long expires;
  public long fin;

  public ClosedAuction() {}
}
