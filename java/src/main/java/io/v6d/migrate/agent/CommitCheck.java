package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a push may commit: metadata that completes its own migration and nothing else.
 *
 * <ul>
 *   <li>Each blob the tree names maps either to a blob of this push session (the target blob
 *       "begin" allocated for that very source blob), or -- between instances of one cluster --
 *       to itself, a blob that already lives on this instance;</li>
 *   <li>the tree may likewise keep, as they are, members that live on this instance (same
 *       cluster, not global);</li>
 *   <li>every kept member must exist on this instance and be persisted: only persisted metadata
 *       is visible across a cluster, so only that can be in a source tree a peer legitimately
 *       read. A reused blob must be a blob of one of those kept members, as this instance's own
 *       metadata says. So another client's unpersisted object or blob is never reachable;</li>
 *   <li>a blob's {@code length} in the tree is not larger than the blob it maps to, so readers
 *       of the new object never read past a buffer (vineyard's own trees often say 0).</li>
 * </ul>
 * Anything else is refused before anything is sealed or created.
 */
final class CommitCheck {
  private CommitCheck() {}

  static void check(VineyardClient target, PushSession session, JsonNode tree, Map<Long, Long> newBlobIds,
      boolean sameCluster) {
    Map<Long, Long> ownSizes = new LinkedHashMap<>();
    Set<Long> existing = new LinkedHashSet<>();
    newBlobIds.forEach((from, to) -> {
      Long own = session.blobIds().get(from);
      if (own != null && own.equals(to)) {
        ownSizes.put(to, session.sizeOf(to));
      } else if (sameCluster && from.equals(to)) {
        existing.add(to);
      } else {
        throw new MigrateException(ErrorCode.INVALID, "commit maps blob " + ObjectIds.format(from) + " to "
            + ObjectIds.format(to) + ", which is not a blob of push session " + session.id());
      }
    });
    long instance = target.instanceId();
    List<JsonNode> blobs = new ArrayList<>();
    List<JsonNode> kept = new ArrayList<>();
    if (MetaTree.isMember(tree) && MetaTree.isBlob(tree)) {
      blobs.add(tree);
    }
    walk(tree, sameCluster, instance, blobs, kept);
    Set<Long> keptIds = new LinkedHashSet<>();
    kept.forEach(member -> keptIds.add(MetaTree.id(member)));
    Map<Long, JsonNode> keptMeta = keptIds.isEmpty() ? Map.of() : target.getDatas(keptIds, false);
    Map<Long, Long> keptBlobSizes = new LinkedHashMap<>();
    for (long id : keptIds) {
      JsonNode meta = keptMeta.get(id);
      if (meta == null || !meta.isObject() || MetaTree.instanceId(meta) != instance
          || meta.path("transient").asBoolean(true)) {
        throw new MigrateException(ErrorCode.INVALID, "commit keeps member " + ObjectIds.format(id)
            + ", which is not a persisted object of this instance");
      }
      collectSizes(meta, keptBlobSizes);
    }
    for (long id : existing) {
      if (!keptBlobSizes.containsKey(id)) {
        throw new MigrateException(ErrorCode.INVALID, "commit reuses blob " + ObjectIds.format(id)
            + ", which is not part of a persisted object of this instance that the tree keeps");
      }
    }
    for (JsonNode blob : blobs) {
      long from = MetaTree.id(blob);
      if (ObjectIds.isEmptyBlob(from)) {
        continue;
      }
      Long to = newBlobIds.get(from);
      if (to == null) {
        throw new MigrateException(ErrorCode.META_TREE_INVALID, "no copy of blob " + ObjectIds.format(from) + " on the target");
      }
      long size = ownSizes.containsKey(to) ? ownSizes.get(to) : keptBlobSizes.get(to);
      long stated = blob.path("length").asLong(0);
      if (stated < 0 || stated > size) {
        throw new MigrateException(ErrorCode.INVALID, "the tree says blob " + ObjectIds.format(from) + " has "
            + blob.path("length").asText() + " bytes; its copy " + ObjectIds.format(to) + " has " + size);
      }
    }
  }

  /** Sizes of the blobs in a tree as this instance describes it. */
  private static void collectSizes(JsonNode node, Map<Long, Long> sizes) {
    if (MetaTree.isMember(node) && MetaTree.isBlob(node)) {
      sizes.put(MetaTree.id(node), node.path("length").asLong(-1));
      return;
    }
    node.elements().forEachRemaining(child -> {
      if (child.isObject()) {
        collectSizes(child, sizes);
      }
    });
  }

  /** Collects the blob members and the kept members (not descending into those), as the rewriter sees them. */
  private static void walk(JsonNode node, boolean sameCluster, long instance, List<JsonNode> blobs, List<JsonNode> kept) {
    for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
      JsonNode child = it.next();
      if (!child.isObject()) {
        continue;
      }
      if (MetaTree.isMember(child) && MetaTree.isBlob(child)) {
        blobs.add(child);
      } else if (MetaTree.isMember(child) && sameCluster && !MetaTree.isGlobal(child)
          && MetaTree.instanceId(child) == instance) {
        kept.add(child);
      } else {
        walk(child, sameCluster, instance, blobs, kept);
      }
    }
  }
}
