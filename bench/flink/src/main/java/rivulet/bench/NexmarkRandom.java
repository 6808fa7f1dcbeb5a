package rivulet.bench;

/**
 * A port of core/testing/nexmark-random.ts: the same PRNG (mulberry32, re-seeded per event from
 * (seed, eventId) through murmur3's finaliser), the same draws and the same double arithmetic, so
 * that every event comes out identical to the TypeScript generator's. Not thread-safe: one
 * instance per generating thread.
 */
final class NexmarkRandom {
  private static final double TWO_POW_32 = 4294967296.0;
  private static final double INV_TWO_POW_32 = 1 / TWO_POW_32;
  private static final double SIX_LOG2_10 = 19.931568569324174;
  private static final double LN2 = Math.log(2);
  private static final double[] POW2 = new double[21];
  private static final int EXTRA_POOL_SIZE = 1 << 20;
  private static final int MIN_STRING_LENGTH = 3;

  static {
    for (int k = 0; k <= 20; k++) POW2[k] = Math.scalb(1.0, k);
  }

  private int state;
  private String extraPool;
  private final char[][] charBufs = new char[256][];

  private static int fmix32(int h) {
    h = (h ^ (h >>> 16)) * 0x85ebca6b;
    h = (h ^ (h >>> 13)) * 0xc2b2ae35;
    return h ^ (h >>> 16);
  }

  /** seedRandom: both halves of seed and eventId folded in (JS `x >>> 0` is the low 32 bits). */
  void seed(long seed, long eventId) {
    int h = fmix32((int) seed ^ 0x9e3779b9);
    h = fmix32(h ^ ((int) (seed >> 32) * 0x27d4eb2f));
    h = fmix32(h ^ ((int) eventId * 0xcc9e2d51));
    h = fmix32(h ^ ((int) (eventId >> 32) * 0x1b873593));
    state = h;
  }

  /** mulberry32: the next unsigned 32-bit integer. */
  long nextU32() {
    int s = state = state + 0x6d2b79f5;
    int t = (s ^ (s >>> 15)) * (1 | s);
    t = (t + (t ^ (t >>> 7)) * (61 | t)) ^ t;
    return (t ^ (t >>> 14)) & 0xffffffffL;
  }

  double nextDouble() {
    return nextU32() * INV_TWO_POW_32;
  }

  /** [0, n) for 1 <= n <= 2^32: Math.floor(u32 * n * 2^-32), the same doubles as in JS. */
  long nextInt(long n) {
    return (long) Math.floor((double) nextU32() * (double) n * INV_TWO_POW_32);
  }

  long nextLong(long n) {
    if (n <= 4294967296L) return nextInt(n);
    double hi = (double) (nextU32() >>> 11);
    double lo = (double) nextU32();
    return (long) Math.floor(((hi * TWO_POW_32 + lo) / 9007199254740992.0) * n);
  }

  /** 10^(6u), bit-identical to the TypeScript (same Horner form, same constants). */
  static double pow10x6(double u) {
    double y = u * SIX_LOG2_10;
    int n = (int) Math.floor(y);
    double t = (y - n) * LN2;
    double p =
        1
            + t
                * (1
                    + t
                        * (1.0 / 2
                            + t
                                * (1.0 / 6
                                    + t
                                        * (1.0 / 24
                                            + t
                                                * (1.0 / 120
                                                    + t
                                                        * (1.0 / 720
                                                            + t
                                                                * (1.0 / 5040
                                                                    + t
                                                                        * (1.0 / 40320
                                                                            + t
                                                                                * (1.0 / 362880
                                                                                    + t
                                                                                        * (1.0 / 3628800
                                                                                            + t
                                                                                                * (1.0 / 39916800
                                                                                                    + t
                                                                                                        * (1.0 / 479001600
                                                                                                            + t / 6227020800.0))))))))))));
    return p * POW2[n];
  }

  long nextPrice() {
    return (long) Math.floor(pow10x6(nextDouble()) * 100 + 0.5);
  }

  String nextString(int maxLength) {
    return nextString(maxLength, ' ');
  }

  String nextString(int maxLength, char special) {
    int len = MIN_STRING_LENGTH + (int) nextInt(maxLength - MIN_STRING_LENGTH);
    char[] buf = charBufs[len];
    if (buf == null) charBufs[len] = buf = new char[len];
    for (int i = 0; i < len; i++) {
      int k = (int) nextInt(13 * 26);
      buf[i] = k < 26 ? special : (char) ('a' + (k % 26));
    }
    String s = new String(buf, 0, len);
    return special == ' ' ? s.trim() : s;
  }

  private String freshExactString(int length) {
    StringBuilder sb = new StringBuilder(length);
    long rnd = 0;
    int left = 0;
    for (int i = 0; i < length; i++) {
      if (left == 0) {
        rnd = nextU32() >>> 1;
        left = 6;
      }
      sb.append((char) ('a' + (rnd % 26)));
      rnd = rnd / 26;
      left--;
    }
    return sb.toString();
  }

  private String extraPool() {
    if (extraPool == null) {
      int saved = state;
      seed(0x4e45584d, 0x41524b);
      extraPool = freshExactString(EXTRA_POOL_SIZE);
      state = saved;
    }
    return extraPool;
  }

  String nextExactString(int length) {
    if (length <= 0) return "";
    if (length < EXTRA_POOL_SIZE / 2) {
      int offset = (int) nextInt(EXTRA_POOL_SIZE - length);
      return extraPool().substring(offset, offset + length);
    }
    return freshExactString(length);
  }

  String nextExtra(int currentSize, int desiredAverageSize) {
    if (currentSize > desiredAverageSize) return "";
    int needed = desiredAverageSize - currentSize;
    int delta = (int) Math.round(needed * 0.2);
    int size = needed - delta + (delta == 0 ? 0 : (int) nextInt(2L * delta));
    return nextExactString(size);
  }

  /** Saves the PRNG state (withFixedRandom's save and restore). */
  int save() {
    return state;
  }

  void restore(int saved) {
    state = saved;
  }
}
