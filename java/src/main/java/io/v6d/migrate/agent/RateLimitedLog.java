package io.v6d.migrate.agent;

import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * At most {@link #LINES_PER_WINDOW} lines per {@link #WINDOW_MILLIS} for one kind of event
 * (authentication failures); the lines left out are counted and the next line written says how
 * many there were, so a flood of failures costs a bounded log.
 */
final class RateLimitedLog {
  static final int LINES_PER_WINDOW = 5;
  static final long WINDOW_MILLIS = 10_000;

  private final Logger log;
  private final LongSupplier clockMillis;
  private long windowStart = Long.MIN_VALUE;
  private int linesInWindow;
  private long suppressed;

  RateLimitedLog(Logger log, LongSupplier clockMillis) {
    this.log = log;
    this.clockMillis = clockMillis;
  }

  RateLimitedLog(Logger log) {
    this(log, System::currentTimeMillis);
  }

  /** Logs {@code message} at INFO unless this window's lines are spent; returns whether it did. */
  synchronized boolean info(String message) {
    long now = clockMillis.getAsLong();
    if (windowStart == Long.MIN_VALUE || now - windowStart >= WINDOW_MILLIS) {
      windowStart = now;
      linesInWindow = 0;
    }
    if (linesInWindow >= LINES_PER_WINDOW) {
      suppressed++;
      return false;
    }
    linesInWindow++;
    if (suppressed > 0) {
      log.info("{} ({} similar messages suppressed before this one)", message, suppressed);
      suppressed = 0;
    } else {
      log.info(message);
    }
    return true;
  }

  synchronized long suppressed() {
    return suppressed;
  }
}
