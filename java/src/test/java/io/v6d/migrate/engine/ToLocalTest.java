package io.v6d.migrate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.v6d.migrate.MigrateException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ToLocalTest {
  private static List<ToLocal.Chunk> chunks(int n) {
    List<ToLocal.Chunk> chunks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      chunks.add(new ToLocal.Chunk(100 - i, i % 2 == 0 ? "node-b" : "node-a")); // unsorted on purpose
    }
    return chunks;
  }

  private static List<Integer> shares(int n, int replica) {
    List<Integer> sizes = new ArrayList<>();
    for (int rank = 0; rank < replica; rank++) {
      sizes.add(ToLocal.share(chunks(n), replica, rank).size());
    }
    return sizes;
  }

  @Test
  void sharesFollowTheOriginalToolsArithmetic() {
    // the original computed n / replica with Python 3's true division, plus one when uneven
    assertEquals(List.of(2, 2, 2), shares(6, 3));
    assertEquals(List.of(4, 1), shares(5, 2));
    assertEquals(List.of(5, 4, 1), shares(10, 3));
    assertEquals(List.of(3, 1, 0), shares(4, 3));
    assertEquals(List.of(3, 3, 1, 0), shares(7, 4));
  }

  @Test
  void chunksAreSortedByNodeThenId() {
    // node-a holds ids 99, 97, 95; node-b holds 100, 98, 96
    assertEquals(List.of(95L, 97L), ToLocal.share(chunks(6), 3, 0));
    assertEquals(List.of(99L, 96L), ToLocal.share(chunks(6), 3, 1));
    assertEquals(List.of(98L, 100L), ToLocal.share(chunks(6), 3, 2));
  }

  @Test
  void everyChunkLandsExactlyOnce() {
    for (int n = 0; n < 12; n++) {
      for (int replica = 1; replica < 6; replica++) {
        List<Long> all = new ArrayList<>();
        for (int rank = 0; rank < replica; rank++) {
          all.addAll(ToLocal.share(chunks(n), replica, rank));
        }
        assertEquals(n, all.size());
        assertEquals(n, all.stream().distinct().count());
      }
    }
  }

  @Test
  void rankOutOfRangeIsInvalid() {
    assertThrows(MigrateException.class, () -> ToLocal.share(chunks(3), 3, 3));
    assertThrows(MigrateException.class, () -> ToLocal.share(chunks(3), 0, 0));
  }
}
