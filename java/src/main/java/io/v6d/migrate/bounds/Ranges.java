package io.v6d.migrate.bounds;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.Collection;
import java.util.function.Supplier;

/**
 * Overflow-safe checks of the numbers a peer or vineyardd sends us: offsets, lengths, sizes and
 * their sums. Every check is written so that no intermediate value can wrap around ({@code offset
 * + length > size} is true for an offset near 2^63, so it is never written that way). Pure code.
 */
public final class Ranges {
  private Ranges() {}

  /**
   * Whether {@code length} bytes at {@code offset} lie inside {@code size} bytes; false for any
   * negative argument.
   */
  public static boolean inside(long offset, long length, long size) {
    return offset >= 0 && length >= 0 && size >= 0 && length <= size && offset <= size - length;
  }

  /**
   * Checks {@link #inside}; otherwise throws {@code code} with {@code what} and the numbers.
   * Returns {@code offset}.
   */
  public static long requireInside(long offset, long length, long size, ErrorCode code, Supplier<String> what) {
    if (!inside(offset, length, size)) {
      throw new MigrateException(code, what.get() + ": " + length + " bytes at offset " + offset
          + " do not lie inside " + size + " bytes");
    }
    return offset;
  }

  /** {@code value} if it is not negative; otherwise throws {@code code} naming {@code what}. */
  public static long requireSize(long value, ErrorCode code, Supplier<String> what) {
    if (value < 0) {
      throw new MigrateException(code, what.get() + " has a negative size (" + value + ")");
    }
    return value;
  }

  /** {@code a + b} of two non-negative sizes; a sum beyond 2^63-1 throws (INVALID). */
  public static long add(long a, long b, Supplier<String> what) {
    return total(java.util.List.of(a, b), ErrorCode.INVALID, what);
  }

  /** The sum of non-negative sizes; a negative one, or a sum beyond 2^63-1, throws. */
  public static long total(Collection<Long> sizes, ErrorCode code, Supplier<String> what) {
    long total = 0;
    for (long size : sizes) {
      requireSize(size, code, what);
      if (size > Long.MAX_VALUE - total) {
        throw new MigrateException(code, what.get() + " add up to more than " + Long.MAX_VALUE + " bytes");
      }
      total += size;
    }
    return total;
  }

  /** {@code ceil(value / unit)} for {@code value >= 0}, {@code unit > 0}, without overflow. */
  public static long ceilDiv(long value, long unit) {
    return value / unit + (value % unit == 0 ? 0 : 1);
  }
}
