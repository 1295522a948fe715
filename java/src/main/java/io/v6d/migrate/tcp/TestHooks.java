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
 *   <li>{@code io.v6d.migrate.test.corruptCompressed=N}: flip a byte in the middle of the N-th
 *       compressed DATA chunk this JVM receives, before it is decompressed;
 *   <li>{@code io.v6d.migrate.test.bombCompressed=N}: the N-th compressed DATA chunk this JVM sends
 *       declares half its real size, so it expands beyond its bound (a decompression bomb);
 *   <li>{@code io.v6d.migrate.test.stallAfterBytes=N}: stop sending DATA once this JVM has sent N
 *       bytes (without blocking anything), so a test can kill a sender in the middle of a transfer.
 * </ul>
 */
final class TestHooks {
  static final String CORRUPT_CHUNK = "io.v6d.migrate.test.corruptChunk";
  static final String CORRUPT_COMPRESSED = "io.v6d.migrate.test.corruptCompressed";
  private static final AtomicInteger RECEIVED_COMPRESSED = new AtomicInteger();
  static final String BOMB_COMPRESSED = "io.v6d.migrate.test.bombCompressed";
  private static final AtomicInteger SENT_COMPRESSED = new AtomicInteger();
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

  static void maybeCorruptCompressed(io.netty.buffer.ByteBuf body) {
    String nth = System.getProperty(CORRUPT_COMPRESSED);
    if (nth != null && RECEIVED_COMPRESSED.incrementAndGet() == Integer.parseInt(nth)) {
      int at = body.readerIndex() + FrameDecoder.COMPRESSED_PREFIX + (body.readableBytes() - FrameDecoder.COMPRESSED_PREFIX) / 2;
      body.setByte(at, ~body.getByte(at));
    }
  }

  /** The uncompressed length a compressed chunk of {@code length} bytes declares. */
  static int declaredLength(int length) {
    String nth = System.getProperty(BOMB_COMPRESSED);
    if (nth != null && SENT_COMPRESSED.incrementAndGet() == Integer.parseInt(nth)) {
      return length / 2;
    }
    return length;
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
