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

  private static final long PAGE = 4096;

  /**
   * Faults in the pages of a range in one call (MADV_POPULATE_READ/WRITE), ahead of a copy: a
   * fresh mapping otherwise takes one page fault per 4 KiB, which halves the copy's speed. Kernels
   * without it (before 5.14) ignore the advice and the copy faults as usual.
   */
  public static void populate(long address, long length, boolean forWrite) {
    if (length <= 0) {
      return;
    }
    long start = address & ~(PAGE - 1);
    long end = address + length;
    LibC libc = LibC.get();
    libc.madvise(jnr.ffi.Pointer.wrap(jnr.ffi.Runtime.getSystemRuntime(), start), end - start,
        forWrite ? LibC.MADV_POPULATE_WRITE : LibC.MADV_POPULATE_READ);
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
