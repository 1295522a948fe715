package io.v6d.migrate.shm;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Faults a range in ahead of a socket copy ({@link NativeMemory#populate}) unless it was faulted in
 * before. The mappings the agent link copies from and into are kept (the agent's and a pooled
 * client's mappings of vineyardd's store), so after the first transfer their pages stay mapped,
 * and MADV_POPULATE over pages already mapped still walks the page table page by page: 17-30 ms
 * per 256 MiB here, as long as faulting them in afresh, and 9-12% of each end's samples in a
 * steady-state TLS pull (perf). Remembers the 64 KiB regions it populated in a bounded
 * direct-mapped table; an entry gone stale (the range unmapped and another mapping placed there,
 * or its pages reclaimed) only lets the next copy take page faults, as it would without this.
 */
public final class Prefault {
  static final int REGION_SHIFT = 16;
  /**
   * Copies between mappings shorter than this are left to fault page by page: a few page faults
   * cost less than the two madvise calls (a warm tiny migration's copy was mostly those two calls).
   */
  static final long COPY_POPULATE_FROM = 64L << 10;
  private static final int SLOTS = 1 << 16; // 4 GiB of regions before two share a slot
  private static final AtomicLongArray READ = new AtomicLongArray(SLOTS);
  private static final AtomicLongArray WRITE = new AtomicLongArray(SLOTS);

  private Prefault() {}

  /** Before the kernel copies {@code length} bytes at {@code address} (into it if {@code forWrite}). */
  public static void ahead(long address, long length, boolean forWrite) {
    if (needed(address, length, forWrite)) {
      NativeMemory.populate(address, length, forWrite);
      remember(address, length, forWrite);
    }
  }

  /**
   * Before {@code length} bytes are copied from one mapping to another: both ranges are faulted in
   * ahead ({@link #ahead}: the destination for writing, the source for reading), unless the copy is
   * too short to be worth it ({@link #worthPopulatingForCopy}).
   */
  public static void aheadOfCopy(long from, long to, long length) {
    if (worthPopulatingForCopy(length)) {
      ahead(to, length, true);
      ahead(from, length, false);
    }
  }

  static boolean worthPopulatingForCopy(long length) {
    return length >= COPY_POPULATE_FROM;
  }

  /**
   * Whether some region wholly inside the range was not populated before (a range holding no
   * whole region always is: the table knows nothing of it). Partly covered regions at the ends are
   * not asked about: at most two regions' pages fault.
   */
  static boolean needed(long address, long length, boolean forWrite) {
    if (length <= 0) {
      return false;
    }
    AtomicLongArray table = forWrite ? WRITE : READ;
    long first = firstRegion(address);
    long end = endRegion(address, length);
    if (first >= end) {
      return true;
    }
    for (long region = first; region < end; region++) {
      if (table.getOpaque(slot(region)) != region + 1) {
        return true;
      }
    }
    return false;
  }

  static void remember(long address, long length, boolean forWrite) {
    AtomicLongArray table = forWrite ? WRITE : READ;
    for (long region = firstRegion(address), end = endRegion(address, length); region < end; region++) {
      table.setOpaque(slot(region), region + 1); // 0 is an empty slot
    }
  }

  /** Forgets every range (tests; a real mapping's change only costs faults). */
  static void forget() {
    for (int i = 0; i < SLOTS; i++) {
      READ.setOpaque(i, 0);
      WRITE.setOpaque(i, 0);
    }
  }

  private static long firstRegion(long address) {
    return (address + (1L << REGION_SHIFT) - 1) >>> REGION_SHIFT;
  }

  private static long endRegion(long address, long length) {
    return (address + length) >>> REGION_SHIFT;
  }

  private static int slot(long region) {
    return (int) (region & (SLOTS - 1));
  }
}
