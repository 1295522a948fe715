package io.v6d.migrate.rebalance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import io.v6d.migrate.rebalance.RankShares.RankChunk;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RankSharesTest {
  @Test
  void sharesAreDisjointCoverEveryChunkAndAreBalancedByBytes() {
    Random random = new Random(3);
    for (int round = 0; round < 100; round++) {
      int replica = 1 + random.nextInt(5);
      List<RankChunk> chunks = new ArrayList<>();
      long total = 0;
      long max = 0;
      for (int c = 0; c < 1 + random.nextInt(12); c++) {
        long instance = random.nextInt(4);
        long bytes = 1 + random.nextInt(1000);
        chunks.add(new RankChunk(100 + c, bytes, instance, "node-" + instance));
        total += bytes;
        max = Math.max(max, bytes);
      }
      Set<Long> seen = new HashSet<>();
      for (int rank = 0; rank < replica; rank++) {
        long load = 0;
        for (long id : RankShares.share(chunks, replica, rank)) {
          assertTrue(seen.add(id), "a chunk in two shares");
          load += chunks.stream().filter(c -> c.id() == id).findFirst().orElseThrow().bytes();
        }
        assertTrue(replica * load <= total + (replica - 1) * max, "rank " + rank + " holds " + load);
      }
      assertEquals(chunks.size(), seen.size());
    }
  }

  @Test
  void chunksAlreadyOnTheRanksInstanceStay() {
    // node-a holds 0 and 1, node-b holds 2 and 3: ranks 0 and 1 keep what their instances hold
    List<RankChunk> chunks = List.of(new RankChunk(0, 10, 7, "node-b"), new RankChunk(1, 10, 5, "node-a"),
        new RankChunk(2, 10, 7, "node-b"), new RankChunk(3, 10, 5, "node-a"));
    assertEquals(List.of(1L, 3L), RankShares.share(chunks, 2, 0));
    assertEquals(List.of(0L, 2L), RankShares.share(chunks, 2, 1));
    assertThrows(MigrateException.class, () -> RankShares.share(chunks, 2, 2));
  }
}
