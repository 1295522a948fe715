package io.v6d.migrate.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * How a caller waits for an engine call that usually ends within a millisecond or two (a warm
 * migration of a small object): it spins, yielding the core at each look, for the first
 * {@value #PROPERTY} microseconds of the call (default 2,000) before parking. A parked caller is
 * woken by the engine's thread when the call ends and must then be scheduled again, on a core
 * that went idle meanwhile: on this project's 2-core VM that cost 0.13-0.2 ms of a warm tiny call
 * (A/B, 1,000 calls on new objects after 2,500 warm ones, 4 rounds, from the main thread and from
 * another: 1.14-1.20 ms parked, 0.95-1.00 spinning).
 *
 * <p>It trades CPU for that: the process used 2.1-2.2 ms of CPU a call against 1.35-1.55 parked.
 * The cost is bounded: one caller of the process spins at a time (the others park at once), a call
 * is spun for only while it is younger than the window, and none is while the calls that ended
 * lately took longer than the window on average (a process moving large objects burns nothing).
 * Setting the property to 0 turns spinning off; with one processor it is off.
 */
final class WaitSpin {
  static final String PROPERTY = "io.v6d.migrate.waitSpinMicros";
  /** The property's microseconds, at most a second, as nanoseconds. */
  private static final long WINDOW_NANOS = Math.min(Math.max(0, Long.getLong(PROPERTY, 2_000)), 1_000_000) * 1_000;
  private static final boolean ENABLED = WINDOW_NANOS > 0 && Runtime.getRuntime().availableProcessors() > 1;
  private static final AtomicBoolean SPINNING = new AtomicBoolean();
  /** A running average of how long calls took (0: none ended yet); racy updates only blur it. */
  private static volatile long typicalNanos;

  private WaitSpin() {}

  /**
   * Spins until {@code done}, for at most {@code maxNanos}, unless the call (started at
   * {@code startedNanos}, {@link System#nanoTime}) is older than the window, calls lately took
   * longer than it, or another caller spins already.
   */
  static void untilDone(BooleanSupplier done, long startedNanos, long maxNanos) {
    if (!ENABLED || typicalNanos > WINDOW_NANOS || !SPINNING.compareAndSet(false, true)) {
      return;
    }
    try {
      long now = System.nanoTime();
      long until = startedNanos + WINDOW_NANOS;
      if (maxNanos < until - now) {
        until = now + maxNanos;
      }
      while (!done.getAsBoolean() && System.nanoTime() - until < 0) {
        // Yields rather than pauses: on a small host the call's own work (the engine's thread,
        // vineyardd, a compiler thread) may wait for this core, and a spinner that keeps it made
        // some calls wait a time slice. A/B, 1,000-call windows after 4,000 warm tiny calls, 2
        // rounds: calls over 1.6 ms 47-127 -> 13-47 a window, medians 0.68-0.84 -> 0.68-0.80 ms.
        Thread.yield();
      }
    } finally {
      SPINNING.set(false);
    }
  }

  /** A call ended after {@code nanos}: folded into the running average (weight 1/8). */
  static void ended(long nanos) {
    long typical = typicalNanos;
    typicalNanos = typical == 0 ? nanos : typical + (nanos - typical) / 8;
  }

  /** Whether spinning is on at all (the property, and more than one processor). */
  static boolean enabled() {
    return ENABLED;
  }

  /** Forgets the calls that ended (tests). */
  static void reset() {
    typicalNanos = 0;
  }
}
