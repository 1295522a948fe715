package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.transport.BlobTransport;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The source side of one migration: the object's id and full metadata tree, how the source
 * relates to the target (one cluster, or independent instances), and a transport to each
 * instance that holds some of its blobs.
 *
 * <p>In a cluster the tree comes from the target itself (vineyard syncs metadata cluster-wide)
 * and each holder is reached as {@link TransportSelector} decides. An explicit source that is not
 * in the target's cluster provides both the tree and the bytes.
 */
final class SourceSet implements AutoCloseable {
  private final VineyardClient target;
  private final SourceEndpoint explicit;
  private final SourceEndpoint view;
  private final TransportSelector selector;
  private final long objectId;
  private final ObjectNode tree;
  private final boolean sameCluster;
  private final Map<Long, BlobTransport> transports = new HashMap<>();
  /** Asked once: between independent instances it costs a request to the target. */
  private Boolean alreadyOnTarget;

  private SourceSet(VineyardClient target, SourceEndpoint explicit, String object, TransportSelector selector) {
    this.target = target;
    this.explicit = explicit;
    this.selector = selector;
    if (explicit == null) {
      this.sameCluster = true;
      this.objectId = resolveId(ClientSource.view(target), object, "the target's cluster (pass a source)");
      this.tree = treeFromTargetCluster(target, objectId);
    } else {
      this.sameCluster = isMember(explicit.clusterMeta(), target);
      this.objectId = resolveId(explicit, object, "the source");
      this.tree = treeFromHolder(explicit, objectId, sameCluster);
    }
    this.view = sameCluster ? ClientSource.view(target) : explicit;
  }

  /** Finds the source of {@code request}; the caller closes the result. */
  static SourceSet resolve(MigrationRequest request, VineyardClient target, TransportSelector selector) {
    SourceEndpoint explicit = request.source() == null ? null : selector.openExplicit(request.source());
    try {
      return new SourceSet(target, explicit, request.object(), selector);
    } catch (RuntimeException e) {
      if (explicit != null) {
        explicit.close();
      }
      throw e;
    }
  }

  /**
   * Names where the object comes from, for {@link CopyRecords}: the target's own cluster (whose
   * object ids are unique), or the independent instance (by its socket, endpoint and id).
   */
  String sourceKey() {
    return sameCluster ? "cluster" : "instance " + explicit.instanceId() + " " + explicit.ipcSocket() + " "
        + explicit.rpcEndpoint();
  }

  long objectId() {
    return objectId;
  }

  ObjectNode tree() {
    return tree;
  }

  /**
   * The object is on the target already: the target holds it (for a global object: every chunk),
   * or, for independent instances, the target has an object of that id.
   */
  boolean alreadyOnTarget() {
    if (alreadyOnTarget == null) {
      alreadyOnTarget = alreadyOn(tree, target.instanceId(), sameCluster, () -> target.exists(objectId));
    }
    return alreadyOnTarget;
  }

  /**
   * The rule, whichever side asks: in one cluster, the target instance holds the object (for a
   * global object: every chunk); between independent instances, the target has an object of that id.
   */
  static boolean alreadyOn(ObjectNode tree, long targetInstance, boolean sameCluster, BooleanSupplier existsOnTarget) {
    if (!sameCluster) {
      return existsOnTarget.getAsBoolean();
    }
    if (MetaTree.isGlobal(tree)) {
      return MetaTree.blobs(tree).values().stream().allMatch(blob -> blob.instanceId() == targetInstance);
    }
    return MetaTree.instanceId(tree) == targetInstance;
  }

  /** The blob lives on the target already, so it is reused rather than copied. */
  boolean onTarget(long blobInstance) {
    return sameCluster && blobInstance == target.instanceId();
  }

  /** A (non-global) member the target holds already, referred to as it is rather than rebuilt. */
  boolean memberOnTarget(JsonNode member) {
    return !MetaTree.isGlobal(member) && onTarget(MetaTree.instanceId(member));
  }

  /** The transport that reads blobs held by {@code instanceId} (as the tree names it). */
  BlobTransport transportFor(long instanceId) {
    return SourceGroup.transportFor(transports, explicit, view, selector, sameCluster ? instanceId : explicit.instanceId(),
        objectId);
  }

  /**
   * The tree as the explicit source knows it. Its own objects need no sync with the metadata
   * backend (a slow request); a global object, or one the instance does not hold, does.
   */
  static ObjectNode treeFromHolder(SourceEndpoint source, long id, boolean sameCluster) {
    if (!sameCluster) {
      return source.treeToCopy(id, false);
    }
    try {
      ObjectNode local = source.treeToCopy(id, false);
      if (!MetaTree.isGlobal(local) && MetaTree.instanceId(local) == source.instanceId()) {
        return local;
      }
    } catch (MigrateException e) {
      if (e.code() != ErrorCode.OBJECT_NOT_EXISTS) {
        throw e;
      }
    }
    return source.treeToCopy(id, true);
  }

  /** The tree as the target's cluster knows it ({@link SourceGroup#treesKnownTo}: a sync only when needed). */
  private static ObjectNode treeFromTargetCluster(VineyardClient target, long id) {
    JsonNode tree = SourceGroup.treesKnownTo(target, List.of(id)).get(id);
    if (!MetaTree.isTree(tree)) {
      throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS,
          "object " + ObjectIds.format(id) + " is not known to the target's cluster; when it lives on an "
              + "independent instance (--meta local), pass source=<that instance's IPC socket, "
              + "rpc://host:port or " + AgentEndpoint.SCHEME + "host:port>");
    }
    return (ObjectNode) tree;
  }

  /**
   * A stream's chunks are not members of its tree: copying the tree would make a stream that no
   * writer feeds and no reader can drain. Streams are forwarded as they are written instead.
   */
  static void refuseStream(ObjectNode tree) {
    if (MetaTree.isStream(tree)) {
      throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(MetaTree.id(tree)) + " is a stream ("
          + tree.path("typename").asText() + "): forward it with migrate_stream() (vineyard-migrate stream), "
          + "not migrate()");
    }
  }

  static long resolveId(SourceEndpoint endpoint, String object, String where) {
    if (ObjectIds.looksLikeId(object)) {
      return ObjectIds.parse(object);
    }
    try {
      return endpoint.getName(object);
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS || e.code() == ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "no object named '" + object + "' on " + where, e);
      }
      throw e;
    }
  }

  /** True when {@code client}'s instance is a member of the cluster {@code cluster} describes. */
  static boolean isMember(JsonNode cluster, VineyardClient client) {
    return isMember(cluster, client.instanceId(), client.ipcSocket(), client.rpcEndpoint());
  }

  /** Instance ids repeat across clusters; with the socket and endpoint they name one instance. */
  static boolean isMember(JsonNode cluster, long instanceId, String ipcSocket, String rpcEndpoint) {
    JsonNode entry = cluster.path("i" + instanceId);
    return entry.isObject()
        && entry.path("ipc_socket").asText().equals(ipcSocket)
        && entry.path("rpc_endpoint").asText().equals(rpcEndpoint);
  }

  @Override
  public void close() {
    transports.values().stream().filter(t -> explicit == null || t != explicit.transport()).forEach(BlobTransport::close);
    if (explicit != null) {
      explicit.close();
    }
  }
}
