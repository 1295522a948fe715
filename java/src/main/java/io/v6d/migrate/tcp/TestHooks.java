package io.v6d.migrate.tcp;

import io.v6d.migrate.shm.NativeMemory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fault injection for tests, off unless a system property turns it on:
 * {@code io.v6d.migrate.test.corruptChunk=N} flips one byte of the N-th DATA chunk this JVM
 * receives (after it landed, before its CRC is checked), as a corruption in transit would.
 */
final class TestHooks {
  static final String CORRUPT_CHUNK = "io.v6d.migrate.test.corruptChunk";
  private static final AtomicInteger RECEIVED = new AtomicInteger();

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
}
