package io.v6d.migrate.rebalance;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Spreads the chunks of a global object over a set of instances, moving as few bytes as possible.
 *
 * <p><b>Balance.</b> Let {@code w(c)} be a chunk's weight (its bytes, or 1 when balancing by count),
 * {@code W} the total weight, {@code m} the largest weight and {@code k} the number of instances. A
 * plan is balanced when every instance's load {@code L} satisfies {@code k*L <= W + (k-1)*m}, i.e.
 * {@code L <= W/k + m*(k-1)/k}: the ideal share plus less than one chunk. By count this is exactly
 * {@code L <= ceil(n/k)}. Such a plan always exists: placing chunks one by one on the least-loaded
 * instance never breaks the bound (before chunk {@code c} is placed, the least-loaded instance holds
 * at most {@code (W-w(c))/k}).
 *
 * <p><b>Cost.</b> The bytes of the chunks whose instance changes (a chunk on an instance outside the
 * set always moves). A chunk that stays is never copied.
 *
 * <p><b>Algorithm and optimality.</b>
 * <ul>
 *   <li>By count the problem decomposes: each instance keeps its {@code min(count, ceil(n/k))}
 *       largest chunks and the rest fill the free slots. This is optimal (each instance's kept set is
 *       bounded independently, and keeping the largest maximizes the bytes kept; any leftover fits
 *       because {@code k*ceil(n/k) >= n}).</li>
 *   <li>By bytes the problem contains PARTITION, so it is NP-hard. The planner first builds a
 *       feasible plan greedily (each instance keeps its largest chunks that fit under the bound;
 *       moved chunks go largest first to the instance with the most room; if that packing fails, it
 *       keeps only up to {@code W/k}, for which the least-loaded rule is always feasible). Then a
 *       branch-and-bound search over all placements, seeded with that plan's cost, looks for a
 *       cheaper one; within its node budget (default 2 million) it proves optimality, and the plan
 *       says {@code optimal}. When the budget runs out the greedy plan (or the best found) is
 *       returned: the greedy keep rule loses at most two largest chunks per instance against any
 *       balanced plan, so it moves at most {@code OPT + 2*k*m} bytes.</li>
 * </ul>
 *
 * <p><b>{@code maxMoves}.</b> When the plan needs more moves, only {@code maxMoves} are kept: first
 * those off instances outside the set (they must move anyway), then those off the most-loaded
 * instances; the plan then says {@code complete=false} (run it again to continue).
 */
public final class RebalancePlanner {
  /** What is balanced. */
  public enum Measure { BYTES, COUNT }

  /** A chunk: its id, size, and the instance that holds it now. */
  public record Chunk(long id, long bytes, long instance) {
    public Chunk {
      if (bytes < 0) {
        throw new MigrateException(ErrorCode.INVALID, "chunk size must not be negative, got " + bytes);
      }
    }
  }

  public static final long DEFAULT_SEARCH_BUDGET = 2_000_000L;

  private final List<Chunk> chunks;
  private final long[] instances;
  private final Measure measure;
  private final long[] weight;
  /** The most an instance may hold, in the measure: floor((W + (k-1)*m) / k). */
  private final long cap;
  private final int k;
  private final long total;

  private RebalancePlanner(List<Chunk> chunks, List<Long> instances, Measure measure) {
    this.chunks = List.copyOf(chunks);
    this.instances = new LinkedHashSet<>(instances).stream().mapToLong(Long::longValue).toArray();
    this.measure = measure;
    this.k = this.instances.length;
    if (k == 0) {
      throw new MigrateException(ErrorCode.INVALID, "rebalance needs at least one instance to spread the chunks over");
    }
    this.weight = new long[this.chunks.size()];
    long total = 0;
    long max = 0;
    for (int i = 0; i < weight.length; i++) {
      weight[i] = measure == Measure.COUNT ? 1 : this.chunks.get(i).bytes();
      total = addExact(total, weight[i]);
      max = Math.max(max, weight[i]);
    }
    // k*L <= W + (k-1)*m; computed wide, and the result fits a long since m <= W
    this.cap = BigInteger.valueOf(total).add(BigInteger.valueOf(k - 1L).multiply(BigInteger.valueOf(max)))
        .divide(BigInteger.valueOf(k)).longValueExact();
    this.total = total;
  }

  /** The plan for {@code chunks} over {@code instances} (distinct, in the caller's order). */
  public static RebalancePlan plan(List<Chunk> chunks, List<Long> instances, Measure measure, int maxMoves) {
    return plan(chunks, instances, measure, maxMoves, DEFAULT_SEARCH_BUDGET);
  }

  /** As {@link #plan(List, List, Measure, int)}; {@code maxMoves < 0}: no limit. */
  public static RebalancePlan plan(List<Chunk> chunks, List<Long> instances, Measure measure, int maxMoves,
      long searchBudget) {
    RebalancePlanner planner = new RebalancePlanner(chunks, instances, measure == null ? Measure.BYTES : measure);
    int[] placement;
    boolean optimal;
    if (planner.measure == Measure.COUNT) {
      placement = planner.byCount();
      optimal = true;
    } else {
      placement = planner.greedy();
      Search search = new Search(planner, placement, searchBudget);
      placement = search.best;
      optimal = search.exhausted;
    }
    return RebalancePlan.of(planner.chunks, planner.instances, placement, optimal, maxMoves);
  }

  private int indexOf(long instance) {
    for (int i = 0; i < k; i++) {
      if (instances[i] == instance) {
        return i;
      }
    }
    return -1;
  }

  /** Chunk indices, largest bytes first (ties by id, for a deterministic plan). */
  private Integer[] largestFirst() {
    Integer[] order = new Integer[chunks.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.<Integer>comparingLong(i -> chunks.get(i).bytes()).reversed()
        .thenComparingLong(i -> chunks.get(i).id()));
    return order;
  }

  private int[] byCount() {
    return keepThenPlace(cap).placement;
  }

  private int[] greedy() {
    Attempt generous = keepThenPlace(cap);
    if (generous.complete) {
      return generous.placement;
    }
    Attempt safe = keepThenPlace(total / k);
    if (!safe.complete) {
      throw new IllegalStateException("least-loaded placement broke the balance bound");
    }
    return safe.placement;
  }

  private record Attempt(int[] placement, boolean complete) {}

  /** Each instance keeps its largest chunks while its load stays within {@code keepLimit}; the rest
   * go, largest first, to the least-loaded instance, as long as the bound holds. */
  private Attempt keepThenPlace(long keepLimit) {
    int n = chunks.size();
    int[] placement = new int[n];
    long[] load = new long[k];
    Integer[] order = largestFirst();
    List<Integer> moving = new ArrayList<>();
    for (int c : order) {
      int home = indexOf(chunks.get(c).instance());
      if (home >= 0 && load[home] + weight[c] <= keepLimit) {
        placement[c] = home;
        load[home] += weight[c];
      } else {
        moving.add(c);
      }
    }
    for (int c : moving) {
      int least = 0;
      for (int i = 1; i < k; i++) {
        if (load[i] < load[least]) {
          least = i;
        }
      }
      if (load[least] + weight[c] > cap) {
        return new Attempt(placement, false);
      }
      placement[c] = least;
      load[least] += weight[c];
    }
    return new Attempt(placement, true);
  }

  /** Branch and bound over all placements, largest chunks first, cheapest choice (staying) first. */
  private static final class Search {
    private final RebalancePlanner p;
    private final Integer[] order;
    private final long[] suffixForced;
    private final long[] load;
    /** Weight of the chunks not yet placed, per home instance (in the measure). */
    private final long[] homeLeft;
    private final int[] current;
    private int[] best;
    private long bestCost;
    private long budget;
    boolean exhausted = true;

    Search(RebalancePlanner p, int[] seed, long budget) {
      this.p = p;
      this.order = p.largestFirst();
      this.best = seed.clone();
      this.bestCost = p.cost(seed);
      this.budget = budget;
      this.load = new long[p.k];
      this.homeLeft = new long[p.k];
      for (int c = 0; c < seed.length; c++) {
        int home = p.indexOf(p.chunks.get(c).instance());
        if (home >= 0) {
          homeLeft[home] += p.weight[c];
        }
      }
      this.current = new int[seed.length];
      // bytes that must move whatever happens: chunks on instances outside the set
      this.suffixForced = new long[order.length + 1];
      for (int i = order.length - 1; i >= 0; i--) {
        Chunk c = p.chunks.get(order[i]);
        suffixForced[i] = suffixForced[i + 1] + (p.indexOf(c.instance()) < 0 ? c.bytes() : 0);
      }
      descend(0, 0);
    }

    /** A lower bound on the bytes still to move: chunks off the set, and (by bytes) each
     * instance's excess over the bound, which must leave it. */
    private long lowerBound(int depth) {
      long bound = suffixForced[depth];
      if (p.measure == Measure.BYTES) {
        for (int i = 0; i < p.k; i++) {
          bound += Math.max(0, load[i] + homeLeft[i] - p.cap);
        }
      }
      return bound;
    }

    private void descend(int depth, long cost) {
      if (cost + lowerBound(depth) >= bestCost) {
        return;
      }
      if (depth == order.length) {
        bestCost = cost;
        best = current.clone();
        return;
      }
      if (--budget < 0) {
        exhausted = false;
        return;
      }
      int c = order[depth];
      long w = p.weight[c];
      long cap = p.cap;
      int home = p.indexOf(p.chunks.get(c).instance());
      if (home >= 0) {
        homeLeft[home] -= w;
      }
      if (home >= 0 && load[home] + w <= cap) {
        place(depth, c, home, cost);
      }
      long movedCost = cost + p.chunks.get(c).bytes();
      for (int i = 0; i < p.k && budget >= 0; i++) {
        if (i == home || load[i] + w > cap) {
          continue;
        }
        place(depth, c, i, movedCost);
      }
      if (home >= 0) {
        homeLeft[home] += w;
      }
    }

    private void place(int depth, int c, int instance, long cost) {
      current[c] = instance;
      load[instance] += p.weight[c];
      descend(depth + 1, cost);
      load[instance] -= p.weight[c];
    }
  }

  /** Bytes moved by a placement. */
  long cost(int[] placement) {
    long moved = 0;
    for (int c = 0; c < placement.length; c++) {
      if (instances[placement[c]] != chunks.get(c).instance()) {
        moved = addExact(moved, chunks.get(c).bytes());
      }
    }
    return moved;
  }

  static long addExact(long a, long b) {
    try {
      return Math.addExact(a, b);
    } catch (ArithmeticException e) {
      throw new MigrateException(ErrorCode.INVALID, "the chunks' sizes add up to more than 2^63-1 bytes");
    }
  }
}
