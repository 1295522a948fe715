package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.BlobTransport;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The source side of a batch's objects that come from one source (the one the requests name, or
 * the target's cluster): the source is opened once, the trees of all the objects are read in one
 * request (two when some are only in the cluster's view), and each instance holding blobs gets one
 * transport for all of them. The rules are {@link SourceSet}'s, for many objects at once.
 */
final class SourceGroup implements AutoCloseable {
  private final VineyardClient target;
  private final SourceEndpoint explicit;
  private final SourceEndpoint view;
  private final TransportSelector selector;
  private final boolean sameCluster;
  private final Map<Long, BlobTransport> transports = new LinkedHashMap<>();
  private final Map<Long, ObjectNode> trees = new HashMap<>();

  private SourceGroup(VineyardClient target, SourceEndpoint explicit, TransportSelector selector) {
    this.target = target;
    this.explicit = explicit;
    this.selector = selector;
    this.sameCluster = explicit == null || SourceSet.isMember(explicit.clusterMeta(), target);
    this.view = sameCluster ? ClientSource.view(target) : explicit;
  }

  /** Opens the source {@code request} names (every request of the group names the same); the caller closes it. */
  static SourceGroup open(MigrationRequest request, VineyardClient target) {
    TransportSelector selector = new TransportSelector(request, false);
    SourceEndpoint explicit = request.source() == null ? null : selector.openExplicit(request.source());
    try {
      return new SourceGroup(target, explicit, selector);
    } catch (RuntimeException e) {
      if (explicit != null) {
        explicit.close();
      }
      throw e;
    }
  }

  /** The id {@code object} (an id or a name) stands for at this source. */
  long resolveId(String object) {
    return explicit == null ? SourceSet.resolveId(view, object, "the target's cluster (pass a source)")
        : SourceSet.resolveId(explicit, object, "the source");
  }

  /**
   * Reads the trees of {@code ids} in one request, or two: an explicit source of the target's
   * cluster is asked for its own objects without a sync, then for the rest (global objects, or
   * objects of other instances) with one. Fails naming the first object that is not there.
   */
  void readTrees(Set<Long> ids) {
    trees.putAll(explicit == null ? checked(treesKnownTo(target, ids), ids, "the target's cluster; when it lives on "
        + "an independent instance (--meta local), pass its source") : readTrees(explicit, sameCluster, ids));
  }

  /**
   * The trees of {@code ids} as {@code target} knows them from its metadata backend's watch, without
   * a sync (an etcd round trip in vineyardd, a quarter of a warm tiny call); only those it does not
   * know yet (persisted a moment ago) are asked for again with a sync. Persisted metadata does not
   * change, so a tree the target already has is the tree. Ids found nowhere are missing from the map.
   */
  static Map<Long, JsonNode> treesKnownTo(VineyardClient target, Collection<Long> ids) {
    Map<Long, JsonNode> found = new HashMap<>(target.getDatas(ids, false));
    List<Long> unknown = ids.stream().filter(id -> !MetaTree.isTree(found.get(id))).toList();
    if (!unknown.isEmpty()) {
      found.putAll(target.getDatas(unknown, true));
    }
    return found;
  }

  /** {@link #readTrees} from an explicit source (also what a push reads); fails naming an object not there. */
  static Map<Long, ObjectNode> readTrees(SourceEndpoint explicit, boolean sameCluster, Set<Long> ids) {
    Map<Long, JsonNode> found = new HashMap<>(explicit.getDatas(ids, false));
    if (sameCluster) {
      List<Long> synced = new ArrayList<>();
      for (long id : ids) {
        JsonNode local = found.get(id);
        if (!MetaTree.isTree(local) || MetaTree.isGlobal(local) || MetaTree.instanceId(local) != explicit.instanceId()) {
          synced.add(id);
        }
      }
      if (!synced.isEmpty()) {
        found.putAll(explicit.getDatas(synced, true));
      }
    }
    return checked(found, ids, "the source");
  }

  private static Map<Long, ObjectNode> checked(Map<Long, JsonNode> found, Set<Long> ids, String where) {
    Map<Long, ObjectNode> trees = new HashMap<>();
    for (long id : ids) {
      JsonNode tree = found.get(id);
      if (!MetaTree.isTree(tree)) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "object " + ObjectIds.format(id) + " does not exist on "
            + where);
      }
      trees.put(id, (ObjectNode) tree);
    }
    return trees;
  }

  ObjectNode tree(long id) {
    return trees.get(id);
  }

  /** {@link SourceSet#sourceKey} of this source. */
  String sourceKey() {
    return sourceKey(sameCluster, explicit);
  }

  /** Where objects come from, as a copy's tag names it: the target's cluster, or the independent instance. */
  static String sourceKey(boolean sameCluster, SourceEndpoint explicit) {
    return sameCluster ? "cluster" : "instance " + explicit.instanceId() + " " + explicit.ipcSocket() + " "
        + explicit.rpcEndpoint();
  }

  /** Which of {@code ids} are on the target already ({@link SourceSet#alreadyOn}); one request for independent instances. */
  Set<Long> alreadyOnTarget(Set<Long> ids) {
    Map<Long, JsonNode> onTarget = sameCluster || ids.isEmpty() ? Map.of() : target.getDatas(ids, false);
    Set<Long> there = new LinkedHashSet<>();
    for (long id : ids) {
      if (SourceSet.alreadyOn(trees.get(id), target.instanceId(), sameCluster, () -> MetaTree.isTree(onTarget.get(id)))) {
        there.add(id);
      }
    }
    return there;
  }

  /** The blob lives on the target already, so it is reused rather than copied. */
  boolean onTarget(long blobInstance) {
    return sameCluster && blobInstance == target.instanceId();
  }

  /** A (non-global) member the target holds already, referred to as it is rather than rebuilt. */
  boolean memberOnTarget(JsonNode member) {
    return !MetaTree.isGlobal(member) && onTarget(MetaTree.instanceId(member));
  }

  /** The transport that reads blobs held by {@code instanceId}: one per holder for the whole group. */
  BlobTransport transportFor(long instanceId, long objectId) {
    return transportFor(transports, explicit, view, selector, sameCluster ? instanceId : explicit.instanceId(), objectId);
  }

  /**
   * The transport to {@code holder}, opened once into {@code opened}: the explicit source's own
   * when it holds the blobs and fits the transport asked for, else one the selector opens.
   */
  static BlobTransport transportFor(Map<Long, BlobTransport> opened, SourceEndpoint explicit, SourceEndpoint view,
      TransportSelector selector, long holder, long objectId) {
    BlobTransport transport = opened.get(holder);
    if (transport == null) {
      if (explicit != null && holder == explicit.instanceId() && selector.fits(explicit)) {
        transport = explicit.transport();
      } else {
        transport = selector.open(view, holder, objectId);
      }
      opened.put(holder, transport);
    }
    return transport;
  }

  @Override
  public void close() {
    transports.values().stream().filter(t -> explicit == null || t != explicit.transport()).forEach(BlobTransport::close);
    if (explicit != null) {
      explicit.close();
    }
  }
}
