package io.v6d.migrate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Blob ids are unique per instance only: objects whose blob maps send one source id to two new
 * blobs must not be rebuilt in one run (one rewriter maps each source id once).
 */
class AgreeingRunsTest {
  private static TargetBuild.Root root(Map<Long, Long> blobIds) {
    return new TargetBuild.Root(JsonNodeFactory.instance.objectNode(), blobIds, null, true, null, false);
  }

  @Test
  void objectsWithDistinctOrAgreeingBlobsShareOneRun() {
    List<TargetBuild.Root> roots = List.of(root(Map.of(1L, 10L)), root(Map.of(2L, 20L)), root(Map.of(1L, 10L, 3L, 30L)));
    assertEquals(List.of(List.of(0, 1, 2)), TargetBuild.agreeingRuns(roots));
  }

  @Test
  void aSourceIdMappedTwoWaysSplitsTheRuns() {
    // objects 0 and 1 both name blob 1, held by two instances, copied to 10 and 11
    List<TargetBuild.Root> roots = List.of(root(Map.of(1L, 10L)), root(Map.of(1L, 11L)), root(Map.of(2L, 20L)),
        root(Map.of(1L, 11L, 4L, 40L)));
    assertEquals(List.of(List.of(0, 2), List.of(1, 3)), TargetBuild.agreeingRuns(roots));
  }

  @Test
  void noRootsNoRuns() {
    assertEquals(List.of(), TargetBuild.agreeingRuns(List.of()));
  }
}
