package io.v6d.migrate.shm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PrefaultTest {
  private static final long MiB = 1L << 20;
  private static final long BASE = 0x7f00_0000_0000L;

  @AfterEach
  void forget() {
    Prefault.forget();
  }

  @Test
  void aRangeIsPopulatedOnceThenNotAgain() {
    assertTrue(Prefault.needed(BASE, 4 * MiB, false));
    Prefault.remember(BASE, 4 * MiB, false);
    assertFalse(Prefault.needed(BASE, 4 * MiB, false));
    assertFalse(Prefault.needed(BASE + MiB, MiB, false), "a part of a populated range");
  }

  @Test
  void readingAndWritingAreKeptApart() {
    Prefault.remember(BASE, 4 * MiB, false);
    assertTrue(Prefault.needed(BASE, 4 * MiB, true));
  }

  @Test
  void aRangeReachingPastWhatWasPopulatedIsPopulated() {
    Prefault.remember(BASE, 4 * MiB, true);
    assertTrue(Prefault.needed(BASE + 2 * MiB, 4 * MiB, true));
    assertTrue(Prefault.needed(BASE - MiB, 2 * MiB, true));
  }

  @Test
  void aRangeHoldingNoWholeRegionIsAlwaysPopulated() {
    long region = 1L << Prefault.REGION_SHIFT;
    Prefault.remember(BASE, 4 * MiB, false);
    assertTrue(Prefault.needed(BASE + 10, region - 20, false));
    assertFalse(Prefault.needed(BASE, 0, false), "nothing to fault in");
  }

  @Test
  void aSlotTakenByAnotherRangeIsPopulatedAgain() {
    Prefault.remember(BASE, MiB, false);
    Prefault.remember(BASE + (4L << 30), MiB, false); // the same slots, 4 GiB on
    assertTrue(Prefault.needed(BASE, MiB, false));
  }

  @Test
  void populatingARealMappingRemembersIt() {
    java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect((int) (4 * MiB));
    long address = com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(buffer);
    Prefault.ahead(address, 4 * MiB, true);
    assertFalse(Prefault.needed(address, 4 * MiB, true));
  }

  @Test
  void copiesUnder64KiBAreNotWorthPopulating() {
    assertFalse(Prefault.worthPopulatingForCopy(0));
    assertFalse(Prefault.worthPopulatingForCopy((64L << 10) - 1));
    assertTrue(Prefault.worthPopulatingForCopy(64L << 10));
    assertTrue(Prefault.worthPopulatingForCopy(Long.MAX_VALUE));
  }

  @Test
  void aCopyPopulatesItsDestinationForWritingAndItsSourceForReading() {
    java.nio.ByteBuffer from = java.nio.ByteBuffer.allocateDirect((int) (4 * MiB));
    java.nio.ByteBuffer to = java.nio.ByteBuffer.allocateDirect((int) (4 * MiB));
    long fromAddress = com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(from);
    long toAddress = com.kenai.jffi.MemoryIO.getInstance().getDirectBufferAddress(to);
    Prefault.aheadOfCopy(fromAddress, toAddress, 4 * MiB);
    assertFalse(Prefault.needed(toAddress, 4 * MiB, true));
    assertFalse(Prefault.needed(fromAddress, 4 * MiB, false));
    assertTrue(Prefault.needed(fromAddress, 4 * MiB, true), "the source is only read");
  }
}
