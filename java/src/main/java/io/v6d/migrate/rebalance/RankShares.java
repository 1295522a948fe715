package io.v6d.migrate.rebalance;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code migrate_to_local(policy="balanced")}: the share of each of {@code replica} ranks, balanced
 * by bytes, keeping chunks where they are when they are already on the rank's instance.
 *
 * <p>Every rank computes its share alone, so the shares must come out the same on every rank from
 * the global object alone: rank {@code r}'s instance is taken to be the {@code r}-th of the
 * instances holding chunks, sorted by node name then instance id (the order the original tool sorts
 * chunks by). Ranks are bins of {@link RebalancePlanner}; a chunk on the instance of rank {@code r}
 * starts in bin {@code r}, others start outside. The shares are disjoint and cover every chunk
 * whatever the ranks' real instances are; when the assumption holds, they also move the fewest bytes.
 */
public final class RankShares {
  private RankShares() {}

  /** A chunk: id, bytes, holding instance and that instance's node name. */
  public record RankChunk(long id, long bytes, long instance, String node) {}

  /** The chunk ids of {@code rank}, in the global object's order. */
  public static List<Long> share(List<RankChunk> chunks, int replica, int rank) {
    if (replica < 1 || rank < 0 || rank >= replica) {
      throw new MigrateException(ErrorCode.INVALID, "rank must be in [0, replica), and replica at least 1; got rank "
          + rank + " of " + replica);
    }
    List<RankChunk> holders = new ArrayList<>(chunks);
    holders.sort(Comparator.comparing(RankChunk::node).thenComparingLong(RankChunk::instance));
    List<Long> instanceOrder = holders.stream().map(RankChunk::instance).distinct().toList();
    List<RebalancePlanner.Chunk> bins = new ArrayList<>();
    for (RankChunk c : chunks) {
      int index = instanceOrder.indexOf(c.instance());
      bins.add(new RebalancePlanner.Chunk(c.id(), c.bytes(), index < replica ? index : -1));
    }
    List<Long> ranks = new ArrayList<>();
    for (long r = 0; r < replica; r++) {
      ranks.add(r);
    }
    RebalancePlan plan = RebalancePlanner.plan(bins, ranks, RebalancePlanner.Measure.BYTES, -1);
    List<Long> share = new ArrayList<>();
    for (int i = 0; i < chunks.size(); i++) {
      if (plan.placement().get(i) == rank) {
        share.add(chunks.get(i).id());
      }
    }
    return share;
  }
}
