package io.v6d.migrate.rebalance;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bytes of a chunk: the sizes of its blobs (as their holders report them; vineyardd's metadata
 * says 0), each counted once, checked for overflow.
 */
public final class ChunkBytes {
  private ChunkBytes() {}

  public static long of(JsonNode member, Map<Long, Long> blobSizes) {
    Map<Long, Long> lengths = new LinkedHashMap<>();
    collect(member, lengths);
    lengths.replaceAll((id, length) -> blobSizes.getOrDefault(id, length));
    long total = 0;
    for (long length : lengths.values()) {
      try {
        total = Math.addExact(total, length);
      } catch (ArithmeticException e) {
        throw new MigrateException(ErrorCode.META_TREE_INVALID, "a chunk's blobs add up to more than 2^63-1 bytes");
      }
    }
    return total;
  }

  private static void collect(JsonNode node, Map<Long, Long> lengths) {
    if (MetaTree.isMember(node) && MetaTree.isBlob(node)) {
      long length = node.path("length").asLong(0);
      if (length < 0) {
        throw new MigrateException(ErrorCode.META_TREE_INVALID, "blob " + ObjectIds.format(MetaTree.id(node))
            + " has a negative length " + length);
      }
      lengths.putIfAbsent(MetaTree.id(node), length);
      return;
    }
    for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
      JsonNode child = it.next();
      if (child.isObject()) {
        collect(child, lengths);
      }
    }
  }
}
