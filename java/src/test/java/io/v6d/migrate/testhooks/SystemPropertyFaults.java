package io.v6d.migrate.testhooks;

import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.shm.NativeMemory;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fault injection for tests, in the test-hooks jar only (never in the shipped one); each fault is
 * off unless a system property of the JVM turns it on:
 *
 * <ul>
 *   <li>{@code io.v6d.migrate.test.corruptChunk=N}: flip the first byte of the N-th DATA chunk this
 *       JVM receives, as it arrives and before it is checked, as a corruption in transit would;
 *   <li>{@code io.v6d.migrate.test.corruptCompressed=N}: flip a byte in the middle of the N-th
 *       compressed DATA chunk this JVM receives, before it is decompressed;
 *   <li>{@code io.v6d.migrate.test.bombCompressed=N}: the N-th compressed DATA chunk this JVM sends
 *       declares half its real size, so it expands beyond its bound (a decompression bomb);
 *   <li>{@code io.v6d.migrate.test.stallAfterBytes=N}: stop sending DATA once this JVM has sent N
 *       bytes (without blocking anything), so a test can kill a sender in the middle of a transfer;
 *   <li>{@code io.v6d.migrate.test.skipCapacityCheck=true}: skip the engine's up-front capacity
 *       check, so vineyardd itself refuses an allocation midway;
 *   <li>{@code io.v6d.migrate.test.pauseAt=POINT}: at the named point ({@link FaultInjection#reached}),
 *       print {@code PAUSED POINT} on standard output and wait for ever, for a test to kill the process;
 *   <li>{@code io.v6d.migrate.test.failAt=POINT}: at the named point, throw an unchecked exception
 *       (a bug, not a refusal), so a test sees what the code around that point does with one;
 *   <li>{@code io.v6d.migrate.test.resumeFile=PATH}: with {@code pauseAt}, wait only until that file
 *       exists, then go on (a test does something to another process meanwhile).
 * </ul>
 */
public final class SystemPropertyFaults implements FaultInjection {
  static final String CORRUPT_CHUNK = "io.v6d.migrate.test.corruptChunk";
  static final String CORRUPT_COMPRESSED = "io.v6d.migrate.test.corruptCompressed";
  static final String BOMB_COMPRESSED = "io.v6d.migrate.test.bombCompressed";
  static final String STALL_AFTER_BYTES = "io.v6d.migrate.test.stallAfterBytes";
  static final String SKIP_CAPACITY_CHECK = "io.v6d.migrate.test.skipCapacityCheck";
  static final String PAUSE_AT = "io.v6d.migrate.test.pauseAt";
  static final String FAIL_AT = "io.v6d.migrate.test.failAt";
  static final String RESUME_FILE = "io.v6d.migrate.test.resumeFile";
  private final AtomicInteger received = new AtomicInteger();
  private final AtomicInteger receivedCompressed = new AtomicInteger();
  private final AtomicInteger sentCompressed = new AtomicInteger();
  private final AtomicLong sent = new AtomicLong();

  @Override
  public void chunkArriving(long address, int length) {
    String nth = System.getProperty(CORRUPT_CHUNK);
    if (nth == null || length == 0) {
      return;
    }
    if (received.incrementAndGet() == Integer.parseInt(nth)) {
      NativeMemory.putByte(address, (byte) ~NativeMemory.getByte(address));
    }
  }

  @Override
  public void compressedArrived(ByteBuffer payload) {
    String nth = System.getProperty(CORRUPT_COMPRESSED);
    if (nth != null && receivedCompressed.incrementAndGet() == Integer.parseInt(nth)) {
      int at = payload.position() + payload.remaining() / 2;
      payload.put(at, (byte) ~payload.get(at));
    }
  }

  @Override
  public int declaredLength(int length) {
    String nth = System.getProperty(BOMB_COMPRESSED);
    if (nth != null && sentCompressed.incrementAndGet() == Integer.parseInt(nth)) {
      return length / 2;
    }
    return length;
  }

  @Override
  public boolean stallSending(int length) {
    String limit = System.getProperty(STALL_AFTER_BYTES);
    if (limit == null) {
      return false;
    }
    if (sent.get() >= Long.parseLong(limit)) {
      return true;
    }
    sent.addAndGet(length);
    return false;
  }

  @Override
  public boolean skipCapacityCheck() {
    return Boolean.getBoolean(SKIP_CAPACITY_CHECK);
  }

  @Override
  public void reached(String point) {
    if (point.equals(System.getProperty(FAIL_AT))) {
      throw new IllegalStateException("test fault at " + point);
    }
    if (!point.equals(System.getProperty(PAUSE_AT))) {
      return;
    }
    System.out.println("PAUSED " + point);
    System.out.flush();
    String resume = System.getProperty(RESUME_FILE);
    while (resume == null || !java.nio.file.Files.exists(java.nio.file.Path.of(resume))) {
      try {
        Thread.sleep(resume == null ? 60_000 : 20);
      } catch (InterruptedException e) {
        // paused until killed
      }
    }
  }
}
