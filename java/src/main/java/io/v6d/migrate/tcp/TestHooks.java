package io.v6d.migrate.tcp;

import io.v6d.migrate.shm.NativeMemory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fault injection for tests, off unless a system property of the JVM turns it on:
 *
 * <ul>
 *   <li>{@code io.v6d.migrate.test.corruptChunk=N}: flip one byte of the N-th DATA chunk this JVM
 *       receives, after it landed and before its CRC is checked, as a corruption in transit would;
 *   <li>{@code io.v6d.migrate.test.stallAfterBytes=N}: stop sending DATA once this JVM has sent N
 *       bytes (without blocking anything), so a test can kill a sender in the middle of a transfer.
 * </ul>
 */
final class TestHooks {
  static final String CORRUPT_CHUNK = "io.v6d.migrate.test.corruptChunk";
  static final String STALL_AFTER_BYTES = "io.v6d.migrate.test.stallAfterBytes";
  private static final AtomicInteger RECEIVED = new AtomicInteger();
  private static final AtomicLong SENT = new AtomicLong();

  private TestHooks() {}

  static void maybeCorrupt(long address, int length) {
    String nth = System.getProperty(CORRUPT_CHUNK);
    if (nth == null || length == 0) {
      return;
    }
    if (RECEIVED.incrementAndGet() == Integer.parseInt(nth)) {
      NativeMemory.putByte(address, (byte) ~NativeMemory.getByte(address));
    }
  }

  /** True when sending should stop here; counts what is sent otherwise. */
  static boolean stallBefore(int length) {
    String limit = System.getProperty(STALL_AFTER_BYTES);
    if (limit == null) {
      return false;
    }
    if (SENT.get() >= Long.parseLong(limit)) {
      return true;
    }
    SENT.addAndGet(length);
    return false;
  }
}
