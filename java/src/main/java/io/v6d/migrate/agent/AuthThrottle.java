package io.v6d.migrate.agent;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Authentication failures by peer address: the first {@link #FREE_FAILURES} are answered at once,
 * each later one after a delay that doubles (from {@link #FIRST_DELAY_MILLIS} up to
 * {@link #MAX_DELAY_MILLIS}), and after {@link #LOCKOUT_FAILURES} an address is refused at connect
 * for {@link #LOCKOUT_MILLIS} after its latest failure. A success clears the address's record;
 * records are forgotten {@link #LOCKOUT_MILLIS} after their latest failure. Shared by every
 * connection of an agent; delays are applied by the caller with a timer, never by blocking.
 */
final class AuthThrottle {
  static final int FREE_FAILURES = 3;
  static final long FIRST_DELAY_MILLIS = 50;
  static final long MAX_DELAY_MILLIS = 1000;
  static final int LOCKOUT_FAILURES = 10;
  static final long LOCKOUT_MILLIS = 10_000;
  /** Beyond this many addresses, expired records are swept; the map never grows without bound. */
  private static final int MAX_TRACKED = 4096;

  private record Failures(int count, long lastMillis) {}

  private final LongSupplier clockMillis;
  private final Map<InetAddress, Failures> failures = new LinkedHashMap<>();

  AuthThrottle(LongSupplier clockMillis) {
    this.clockMillis = clockMillis;
  }

  AuthThrottle() {
    this(System::currentTimeMillis);
  }

  /** Milliseconds {@code peer} must still wait before it may try again, 0 when it may now. */
  synchronized long lockedOutFor(InetAddress peer) {
    Failures record = current(peer);
    if (record == null || record.count() < LOCKOUT_FAILURES) {
      return 0;
    }
    return Math.max(0, record.lastMillis() + LOCKOUT_MILLIS - clockMillis.getAsLong());
  }

  /** Records a failure of {@code peer}; returns how long to wait before answering it. */
  synchronized long failed(InetAddress peer) {
    long now = clockMillis.getAsLong();
    Failures record = current(peer);
    int count = record == null ? 1 : record.count() + 1;
    if (failures.size() >= MAX_TRACKED && record == null) {
      failures.values().removeIf(f -> now - f.lastMillis() >= LOCKOUT_MILLIS);
      if (failures.size() >= MAX_TRACKED) {
        failures.remove(failures.keySet().iterator().next()); // the oldest
      }
    }
    failures.put(peer, new Failures(count, now));
    return delayAfter(count);
  }

  synchronized void succeeded(InetAddress peer) {
    failures.remove(peer);
  }

  /** The delay before answering the {@code count}-th failure in a row. */
  static long delayAfter(int count) {
    if (count <= FREE_FAILURES) {
      return 0;
    }
    int doublings = Math.min(count - FREE_FAILURES - 1, 20);
    return Math.min(MAX_DELAY_MILLIS, FIRST_DELAY_MILLIS << doublings);
  }

  private Failures current(InetAddress peer) {
    Failures record = failures.get(peer);
    if (record != null && clockMillis.getAsLong() - record.lastMillis() >= LOCKOUT_MILLIS) {
      failures.remove(peer);
      return null;
    }
    return record;
  }
}
