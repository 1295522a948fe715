package io.v6d.migrate.rebalance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import io.v6d.migrate.rebalance.RebalancePlanner.Chunk;
import io.v6d.migrate.rebalance.RebalancePlanner.Measure;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RebalancePlannerTest {
  private static long weight(Chunk c, Measure m) {
    return m == Measure.COUNT ? 1 : c.bytes();
  }

  /** The bound, computed independently: k*L <= W + (k-1)*m. */
  private static boolean balanced(List<Chunk> chunks, List<Long> instances, List<Long> placement, Measure m) {
    BigInteger total = BigInteger.ZERO;
    long max = 0;
    Map<Long, BigInteger> load = new HashMap<>();
    for (int c = 0; c < chunks.size(); c++) {
      long w = weight(chunks.get(c), m);
      total = total.add(BigInteger.valueOf(w));
      max = Math.max(max, w);
      load.merge(placement.get(c), BigInteger.valueOf(w), BigInteger::add);
    }
    BigInteger k = BigInteger.valueOf(instances.size());
    BigInteger bound = total.add(k.subtract(BigInteger.ONE).multiply(BigInteger.valueOf(max)));
    for (Map.Entry<Long, BigInteger> e : load.entrySet()) {
      if (!instances.contains(e.getKey()) || e.getValue().multiply(k).compareTo(bound) > 0) {
        return false;
      }
    }
    return true;
  }

  /** The fewest bytes any balanced placement moves, by trying every placement. */
  private static long bruteForce(List<Chunk> chunks, List<Long> instances, Measure m) {
    int n = chunks.size();
    int k = instances.size();
    long best = Long.MAX_VALUE;
    int[] digits = new int[n];
    long combos = (long) Math.pow(k, n);
    for (long x = 0; x < combos; x++) {
      long rest = x;
      List<Long> placement = new ArrayList<>();
      long moved = 0;
      for (int c = 0; c < n; c++) {
        digits[c] = (int) (rest % k);
        rest /= k;
        long to = instances.get(digits[c]);
        placement.add(to);
        if (to != chunks.get(c).instance()) {
          moved += chunks.get(c).bytes();
        }
      }
      if (moved < best && balanced(chunks, instances, placement, m)) {
        best = moved;
      }
    }
    return best;
  }

  private static void check(List<Chunk> chunks, List<Long> instances, Measure m) {
    RebalancePlan plan = RebalancePlanner.plan(chunks, instances, m, -1);
    assertTrue(balanced(chunks, instances, plan.placement(), m), () -> "unbalanced: " + plan);
    long moved = 0;
    for (int c = 0; c < chunks.size(); c++) {
      if (plan.placement().get(c) != chunks.get(c).instance()) {
        moved += chunks.get(c).bytes();
      }
    }
    assertEquals(moved, plan.bytesMoved());
    assertEquals(plan.moves().stream().mapToLong(RebalancePlan.Move::bytes).sum(), moved);
    assertTrue(plan.optimal(), "small cases are searched to the end");
    assertEquals(bruteForce(chunks, instances, m), plan.bytesMoved(), () -> chunks + " over " + instances + " by " + m);
  }

  @Test
  void randomSmallCasesMoveTheFewestBytes() {
    Random random = new Random(12);
    for (int round = 0; round < 400; round++) {
      int k = 1 + random.nextInt(4);
      int n = random.nextInt(k == 4 ? 8 : 9);
      List<Long> instances = new ArrayList<>();
      for (int i = 0; i < k; i++) {
        instances.add(100L + i);
      }
      List<Chunk> chunks = new ArrayList<>();
      for (int c = 0; c < n; c++) {
        // sometimes on an instance outside the set (99), sizes skewed, sometimes equal or zero
        long holder = random.nextInt(5) == 0 ? 99 : 100 + random.nextInt(Math.max(1, k - random.nextInt(2)));
        long bytes = round % 3 == 0 ? 64 : random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(1000);
        chunks.add(new Chunk(1000 + c, bytes, holder));
      }
      check(chunks, instances, round % 2 == 0 ? Measure.BYTES : Measure.COUNT);
    }
  }

  @Test
  void twelveEqualChunksOnOneInstanceMoveNine() {
    List<Chunk> chunks = new ArrayList<>();
    for (int c = 0; c < 12; c++) {
      chunks.add(new Chunk(c, 1 << 20, 1));
    }
    RebalancePlan plan = RebalancePlanner.plan(chunks, List.of(1L, 2L, 3L, 4L), Measure.BYTES, -1);
    assertEquals(9L << 20, plan.bytesMoved());
    assertTrue(plan.optimal());
    Map<Long, Long> after = plan.bytesAfter();
    for (long i = 1; i <= 4; i++) {
      assertEquals(3L << 20, after.get(i));
    }
  }

  @Test
  void chunksInPlaceStay() {
    List<Chunk> chunks = List.of(new Chunk(1, 10, 1), new Chunk(2, 10, 2), new Chunk(3, 10, 3));
    RebalancePlan plan = RebalancePlanner.plan(chunks, List.of(1L, 2L, 3L), Measure.BYTES, -1);
    assertTrue(plan.moves().isEmpty());
    assertEquals(List.of(1L, 2L, 3L), plan.placement());
  }

  @Test
  void maxMovesCutsThePlanAndSaysSo() {
    List<Chunk> chunks = new ArrayList<>();
    for (int c = 0; c < 12; c++) {
      chunks.add(new Chunk(c, 100, c < 2 ? 9 : 1)); // two chunks on an instance outside the set
    }
    RebalancePlan plan = RebalancePlanner.plan(chunks, List.of(1L, 2L, 3L, 4L), Measure.COUNT, 3);
    assertEquals(3, plan.moves().size());
    assertFalse(plan.complete());
    assertFalse(plan.optimal());
    // the two that must move come first
    assertEquals(2, plan.moves().stream().filter(m -> m.from() == 9).count());
  }

  @Test
  void sizesNearTwoToTheSixtyThreeAreHandledWithoutOverflow() {
    long big = Long.MAX_VALUE / 2;
    List<Chunk> chunks = List.of(new Chunk(1, big, 1), new Chunk(2, big, 1));
    RebalancePlan plan = RebalancePlanner.plan(chunks, List.of(1L, 2L), Measure.BYTES, -1);
    assertEquals(big, plan.bytesMoved());
    List<Chunk> tooMuch = List.of(new Chunk(1, Long.MAX_VALUE, 1), new Chunk(2, 1, 1));
    assertThrows(MigrateException.class, () -> RebalancePlanner.plan(tooMuch, List.of(1L), Measure.BYTES, -1));
    assertThrows(MigrateException.class, () -> new Chunk(1, -1, 1));
    assertThrows(MigrateException.class, () -> RebalancePlanner.plan(chunks, List.of(), Measure.BYTES, -1));
  }

  @Test
  void aLargeCaseFinishesWithinTheBudgetAndStaysBalanced() {
    Random random = new Random(7);
    List<Chunk> chunks = new ArrayList<>();
    for (int c = 0; c < 400; c++) {
      chunks.add(new Chunk(c, 1 + random.nextInt(1 << 30), 1 + random.nextInt(3)));
    }
    List<Long> instances = new ArrayList<>();
    for (long i = 1; i <= 100; i++) {
      instances.add(i);
    }
    RebalancePlan plan = RebalancePlanner.plan(chunks, instances, Measure.BYTES, -1, 100_000);
    assertTrue(balanced(chunks, instances, plan.placement(), Measure.BYTES));
  }
}
