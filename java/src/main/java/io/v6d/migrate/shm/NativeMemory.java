package io.v6d.migrate.shm;

import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * Copies between raw addresses (two shared-memory mappings), so blob bytes never pass through the
 * Java heap.
 */
public final class NativeMemory {
  private static final Unsafe UNSAFE = loadUnsafe();
  /** Copy in slices so a long copy does not hold off a safepoint for the whole of it. */
  private static final long SLICE = 4L << 20;

  private NativeMemory() {}

  public static void copy(long srcAddress, long dstAddress, long bytes) {
    long done = 0;
    while (done < bytes) {
      long n = Math.min(SLICE, bytes - done);
      UNSAFE.copyMemory(null, srcAddress + done, null, dstAddress + done, n);
      done += n;
    }
  }

  /**
   * A direct ByteBuffer over {@code length} bytes at {@code address} (no copy, not owned). Made by
   * JNI (jffi), so it needs no reflective access to the JDK's private constructors.
   */
  public static java.nio.ByteBuffer view(long address, int length) {
    return com.kenai.jffi.MemoryIO.getInstance().newDirectByteBuffer(address, length);
  }

  public static byte getByte(long address) {
    return UNSAFE.getByte(address);
  }

  public static void putByte(long address, byte value) {
    UNSAFE.putByte(address, value);
  }

  private static Unsafe loadUnsafe() {
    try {
      Field field = Unsafe.class.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      return (Unsafe) field.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
