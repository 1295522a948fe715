package io.v6d.migrate.bounds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.tcp.DataSink;
import io.v6d.migrate.transport.ChunkPlan;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every range check against exact (BigInteger) arithmetic, at the boundaries and at random. */
class RangesTest {
  /** 0, 1, 2^31-1, 2^31, 2^32, 2^63-16, 2^63-1, and negatives, with their neighbours. */
  static final long[] BOUNDARIES = {0, 1, 16, 4096, Integer.MAX_VALUE, 1L << 31, (1L << 31) + 1, (1L << 32) - 1,
      1L << 32, (1L << 32) + 3, Long.MAX_VALUE - 16, Long.MAX_VALUE - 1, Long.MAX_VALUE, -1, -16, Integer.MIN_VALUE,
      Long.MIN_VALUE, Long.MIN_VALUE + 1};

  static Stream<Arguments> triples() {
    List<Arguments> all = new ArrayList<>();
    for (long offset : BOUNDARIES) {
      for (long length : BOUNDARIES) {
        for (long size : BOUNDARIES) {
          all.add(Arguments.of(offset, length, size));
        }
      }
    }
    Random random = new Random(20261130);
    for (int i = 0; i < 5_000; i++) {
      all.add(Arguments.of(near(random), near(random), near(random)));
    }
    return all.stream();
  }

  /** A random value, mostly close to one of the boundaries (where mistakes are). */
  private static long near(Random random) {
    long base = BOUNDARIES[random.nextInt(BOUNDARIES.length)];
    return random.nextInt(4) == 0 ? random.nextLong() : base + random.nextInt(33) - 16;
  }

  /** The truth: all non-negative and offset + length <= size, in exact arithmetic. */
  private static boolean exactlyInside(long offset, long length, long size) {
    BigInteger end = BigInteger.valueOf(offset).add(BigInteger.valueOf(length));
    return offset >= 0 && length >= 0 && size >= 0 && end.compareTo(BigInteger.valueOf(size)) <= 0;
  }

  @ParameterizedTest
  @MethodSource("triples")
  void insideMatchesExactArithmetic(long offset, long length, long size) {
    assertEquals(exactlyInside(offset, length, size), Ranges.inside(offset, length, size));
    if (exactlyInside(offset, length, size)) {
      assertEquals(offset, Ranges.requireInside(offset, length, size, ErrorCode.INVALID, () -> "x"));
    } else {
      assertThrows(MigrateException.class, () -> Ranges.requireInside(offset, length, size, ErrorCode.INVALID, () -> "x"));
    }
  }

  /** The DATA sinks (push sessions, pulls) accept exactly the ranges inside the blob. */
  @ParameterizedTest
  @MethodSource("triples")
  void dataSinkAcceptsOnlyRangesInsideTheBlob(long offset, long length, long size) {
    if (size < 0 || length < 0 || length > Integer.MAX_VALUE) {
      return; // a blob never has a negative size; DATA lengths are ints
    }
    Map<Long, Blob> blobs = Map.of(7L, new Blob(7L, size, 1L << 40));
    if (exactlyInside(offset, length, size)) {
      assertEquals((1L << 40) + offset, DataSink.addressIn(blobs, 7L, offset, (int) length, "test"));
    } else {
      assertThrows(MigrateException.class, () -> DataSink.addressIn(blobs, 7L, offset, (int) length, "test"));
    }
    assertThrows(MigrateException.class, () -> DataSink.addressIn(blobs, 8L, 0, 0, "test"));
  }

  @ParameterizedTest
  @MethodSource("pairs")
  void totalIsExactOrRefused(long a, long b) {
    BigInteger exact = BigInteger.valueOf(a).add(BigInteger.valueOf(b));
    boolean ok = a >= 0 && b >= 0 && exact.compareTo(BigInteger.valueOf(Long.MAX_VALUE)) <= 0;
    if (ok) {
      assertEquals(exact.longValueExact(), Ranges.total(List.of(a, b), ErrorCode.INVALID, () -> "x"));
      assertEquals(exact.longValueExact(), Ranges.add(a, b, () -> "x"));
    } else {
      assertThrows(MigrateException.class, () -> Ranges.total(List.of(a, b), ErrorCode.INVALID, () -> "x"));
    }
    if (a >= 0) {
      assertEquals(a, Ranges.requireSize(a, ErrorCode.INVALID, () -> "x"));
    } else {
      assertThrows(MigrateException.class, () -> Ranges.requireSize(a, ErrorCode.INVALID, () -> "x"));
    }
  }

  static Stream<Arguments> pairs() {
    List<Arguments> all = new ArrayList<>();
    for (long a : BOUNDARIES) {
      for (long b : BOUNDARIES) {
        all.add(Arguments.of(a, b));
      }
    }
    return all.stream();
  }

  @Test
  void ceilDivAtTheTop() {
    long unit = 64L << 20;
    for (long value : BOUNDARIES) {
      if (value >= 0) {
        BigInteger[] qr = BigInteger.valueOf(value).divideAndRemainder(BigInteger.valueOf(unit));
        long expected = qr[0].longValueExact() + (qr[1].signum() == 0 ? 0 : 1);
        assertEquals(expected, Ranges.ceilDiv(value, unit));
      }
    }
    assertEquals(8, ChunkPlan.connectionsFor(Long.MAX_VALUE, 8)); // used to wrap to 1
  }

  @Test
  void chunkPlanRefusesNegativeSizesAndCoversHugeOnes() {
    Map<Long, Long> negative = Map.of(1L, -1L);
    assertThrows(MigrateException.class, () -> ChunkPlan.split(negative, 1 << 20, 2));
    assertThrows(MigrateException.class, () -> ChunkPlan.split(Map.of(1L, 10L), 0, 2));
    Map<Long, Long> sizes = new LinkedHashMap<>();
    sizes.put(1L, (1L << 32) + 3);
    long covered = 0;
    for (List<ChunkPlan.Chunk> connection : ChunkPlan.split(sizes, Integer.MAX_VALUE, 3)) {
      for (ChunkPlan.Chunk chunk : connection) {
        assertEquals(true, Ranges.inside(chunk.offset(), chunk.length(), (1L << 32) + 3));
        covered += chunk.length();
      }
    }
    assertEquals((1L << 32) + 3, covered);
  }
}
