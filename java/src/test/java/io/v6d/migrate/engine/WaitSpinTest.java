package io.v6d.migrate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** When a waiting caller spins, and that it never spins past its bounds (counted, not timed). */
class WaitSpinTest {
  private static final long LONG_AGO = System.nanoTime() - 3_600_000_000_000L;

  @BeforeEach
  @AfterEach
  void forget() {
    WaitSpin.reset();
  }

  /** A call that never ends, counting how often the spinner looked. */
  private static BooleanSupplier neverDone(AtomicInteger looks) {
    return () -> {
      looks.incrementAndGet();
      return false;
    };
  }

  @Test
  void aYoungCallIsSpunForUntilItEnds() {
    assumeTrue(WaitSpin.enabled());
    AtomicInteger looks = new AtomicInteger();
    WaitSpin.untilDone(() -> looks.incrementAndGet() >= 1000, System.nanoTime(), Long.MAX_VALUE);
    assertEquals(1000, looks.get(), "spun until done, then stopped");
  }

  @Test
  void noSpinBeyondTheWaitAskedForNorForACallOlderThanTheWindow() {
    AtomicInteger looks = new AtomicInteger();
    WaitSpin.untilDone(neverDone(looks), System.nanoTime(), 0);
    assertTrue(looks.get() <= 1, "a wait of 0 ns looked " + looks.get() + " times");
    looks.set(0);
    WaitSpin.untilDone(neverDone(looks), LONG_AGO, Long.MAX_VALUE);
    assertTrue(looks.get() <= 1, "an hour-old call was spun for: " + looks.get() + " looks");
  }

  @Test
  void noSpinWhileCallsLatelyTookLongerThanTheWindow() {
    assumeTrue(WaitSpin.enabled());
    for (int i = 0; i < 4; i++) {
      WaitSpin.ended(10_000_000_000L); // 10 s each: a process moving large objects
    }
    AtomicInteger looks = new AtomicInteger();
    WaitSpin.untilDone(neverDone(looks), System.nanoTime(), Long.MAX_VALUE);
    assertEquals(0, looks.get());
    for (int i = 0; i < 200; i++) {
      WaitSpin.ended(100_000); // short calls again: the average comes back under the window
    }
    WaitSpin.untilDone(() -> looks.incrementAndGet() >= 10, System.nanoTime(), Long.MAX_VALUE);
    assertEquals(10, looks.get());
  }

  @Test
  void oneCallerSpinsAtATime() throws InterruptedException {
    assumeTrue(WaitSpin.enabled());
    CountDownLatch spinning = new CountDownLatch(1);
    AtomicBoolean release = new AtomicBoolean();
    Thread first = new Thread(() -> WaitSpin.untilDone(() -> {
      spinning.countDown();
      return release.get();
    }, System.nanoTime() + 3_600_000_000_000L, Long.MAX_VALUE)); // young for an hour: spins until released
    first.start();
    spinning.await();
    AtomicInteger looks = new AtomicInteger();
    WaitSpin.untilDone(neverDone(looks), System.nanoTime(), Long.MAX_VALUE);
    assertEquals(0, looks.get(), "a second caller parks at once");
    release.set(true);
    first.join();
  }
}
