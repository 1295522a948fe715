package io.v6d.migrate;

/**
 * The deadline every connection works under: how long a peer (vineyardd over IPC or RPC, or an
 * agent) may stay silent while we wait for it. It bounds silence, not work: each read, write or
 * awaited reply must make progress within it, so a large transfer that keeps moving never times
 * out, and a stopped or wedged peer fails the caller within about this long, with
 * {@link ErrorCode#CONNECTION_ERROR} naming the peer and the request.
 *
 * <p>Waits whose length the user does not control (a stream's next chunk, which comes when its
 * producer writes it) are not bounded by it; the peer is asked whether it still answers once per
 * timeout instead.
 */
public final class Timeouts {
  /** The default: long enough for a loaded vineyardd or etcd, short enough to notice a stopped one. */
  public static final long DEFAULT_MILLIS = 30_000;
  /** Longer timeouts are refused: a week is no deadline, and larger values overflow nanosecond clocks. */
  public static final long MAX_MILLIS = 7L * 24 * 3600 * 1000;

  private Timeouts() {}

  /** {@code millis}, or the default for 0; a negative timeout is an error. */
  public static long orDefault(long millis) {
    if (millis < 0 || millis > MAX_MILLIS) {
      throw new MigrateException(ErrorCode.INVALID,
          "the timeout must be positive and at most " + MAX_MILLIS + " ms, not " + millis + " ms");
    }
    return millis == 0 ? DEFAULT_MILLIS : millis;
  }

  /** A timeout for APIs that take an int of milliseconds. */
  public static int asInt(long millis) {
    return (int) Math.min(Integer.MAX_VALUE, millis);
  }

  /** "3 s" or "250 ms", for messages. */
  public static String describe(long millis) {
    return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
  }
}
