package io.v6d.migrate.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChunkPlanTest {
  @Test
  void coversEveryByteOnceInBoundedChunks() {
    Map<Long, Long> sizes = new LinkedHashMap<>();
    sizes.put(1L, 10_000_000L);
    sizes.put(2L, 5L);
    sizes.put(3L, 0L);
    sizes.put(4L, 4_194_304L);
    List<List<ChunkPlan.Chunk>> plan = ChunkPlan.split(sizes, 1 << 20, 3);
    assertEquals(3, plan.size());
    Map<Long, Long> covered = new HashMap<>();
    for (List<ChunkPlan.Chunk> connection : plan) {
      long previousEnd = -1;
      long previousBlob = -1;
      for (ChunkPlan.Chunk chunk : connection) {
        assertTrue(chunk.length() <= 1 << 20);
        if (chunk.blobId() == previousBlob) {
          assertTrue(chunk.offset() > previousEnd - 1); // in order within a connection
        }
        covered.merge(chunk.blobId(), (long) chunk.length(), Long::sum);
        previousBlob = chunk.blobId();
        previousEnd = chunk.offset() + chunk.length();
      }
    }
    assertEquals(sizes, covered);
    int max = plan.stream().mapToInt(List::size).max().orElseThrow();
    int min = plan.stream().mapToInt(List::size).min().orElseThrow();
    assertTrue(max - min <= 1, "chunks are dealt evenly");
  }

  @Test
  void oneConnectionPerSixtyFourMebibytesUpToTheMaximum() {
    assertEquals(1, ChunkPlan.connectionsFor(0, 4));
    assertEquals(1, ChunkPlan.connectionsFor(16L << 20, 4));
    assertEquals(2, ChunkPlan.connectionsFor((16L << 20) + 1, 4));
    assertEquals(4, ChunkPlan.connectionsFor(64L << 20, 4));
    assertEquals(4, ChunkPlan.connectionsFor(1L << 30, 4));
  }
}
