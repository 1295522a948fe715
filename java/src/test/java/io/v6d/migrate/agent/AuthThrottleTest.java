package io.v6d.migrate.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class AuthThrottleTest {
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final AuthThrottle throttle = new AuthThrottle(now::get);

  @Test
  void delaysGrowThenTheAddressIsLockedOutForAWhile() throws Exception {
    InetAddress peer = InetAddress.getByName("127.0.0.1");
    InetAddress other = InetAddress.getByName("127.0.0.2");
    long previous = 0;
    for (int i = 1; i <= AuthThrottle.LOCKOUT_FAILURES; i++) {
      assertEquals(0, throttle.lockedOutFor(peer));
      long delay = throttle.failed(peer);
      assertTrue(delay >= previous && delay <= AuthThrottle.MAX_DELAY_MILLIS);
      assertEquals(i <= AuthThrottle.FREE_FAILURES, delay == 0);
      previous = delay;
    }
    assertEquals(AuthThrottle.LOCKOUT_MILLIS, throttle.lockedOutFor(peer));
    assertEquals(0, throttle.lockedOutFor(other));
    now.addAndGet(AuthThrottle.LOCKOUT_MILLIS);
    assertEquals(0, throttle.lockedOutFor(peer));
    assertEquals(0, throttle.failed(peer)); // forgotten: counts from one again
  }

  @Test
  void successClearsTheRecord() throws Exception {
    InetAddress peer = InetAddress.getByName("127.0.0.1");
    for (int i = 0; i < AuthThrottle.LOCKOUT_FAILURES - 1; i++) {
      throttle.failed(peer);
    }
    throttle.succeeded(peer);
    assertEquals(0, throttle.failed(peer));
  }

  @Test
  void delayNeverOverflows() {
    assertEquals(AuthThrottle.MAX_DELAY_MILLIS, AuthThrottle.delayAfter(Integer.MAX_VALUE));
  }

  @Test
  void logLinesAreBoundedAndTheSuppressedCounted() {
    RateLimitedLog log = new RateLimitedLog(LoggerFactory.getLogger(AuthThrottleTest.class), now::get);
    int written = 0;
    for (int i = 0; i < 200; i++) {
      written += log.info("refused peer " + i) ? 1 : 0;
    }
    assertEquals(RateLimitedLog.LINES_PER_WINDOW, written);
    assertEquals(200 - RateLimitedLog.LINES_PER_WINDOW, log.suppressed());
    now.addAndGet(RateLimitedLog.WINDOW_MILLIS);
    assertTrue(log.info("refused again"));
    assertEquals(0, log.suppressed());
  }
}
