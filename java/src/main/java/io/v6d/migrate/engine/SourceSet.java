package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.IpcClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.SharedMemoryTransport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The source side of one migration: which instance holds the object, its full metadata tree, how
 * the source relates to the target (one cluster, or independent instances), and a transport to
 * each instance that holds some of its blobs.
 */
final class SourceSet implements AutoCloseable {
  private final IpcClient target;
  private final IpcClient primary;
  private final long objectId;
  private final ObjectNode tree;
  private final JsonNode cluster;
  private final boolean sameCluster;
  private final Map<Long, BlobTransport> transports = new HashMap<>();

  private SourceSet(IpcClient target, IpcClient primary, long objectId) {
    this.target = target;
    this.primary = primary;
    this.objectId = objectId;
    this.cluster = primary.clusterMeta();
    this.sameCluster = isMember(cluster, target);
    this.tree = primary.getData(objectId, sameCluster);
  }

  /** Finds the source of {@code request}; the caller closes the result. */
  static SourceSet resolve(MigrationRequest request, IpcClient target) {
    if (request.sourceSocket() != null) {
      IpcClient source = IpcClient.connect(request.sourceSocket());
      try {
        return new SourceSet(target, source, resolveId(source, request.object(), "the source"));
      } catch (RuntimeException e) {
        source.close();
        throw e;
      }
    }
    long id = resolveId(target, request.object(), "the target's cluster (pass a source)");
    JsonNode meta;
    try {
      meta = target.getData(id, true);
    } catch (MigrateException e) {
      if (e.code() != ErrorCode.OBJECT_NOT_EXISTS) {
        throw e;
      }
      throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS,
          "object " + ObjectIds.format(id) + " is not known to the target's cluster; when it lives on an "
              + "independent instance (--meta local), pass source=<that instance's IPC socket>", e);
    }
    long holder = MetaTree.instanceId(meta);
    if (holder == target.instanceId() || MetaTree.isGlobal(meta)) {
      return new SourceSet(target, IpcClient.connect(target.ipcSocket()), id);
    }
    IpcClient source = IpcClient.connect(localSocketOf(target.clusterMeta(), holder, id));
    try {
      return new SourceSet(target, source, id);
    } catch (RuntimeException e) {
      source.close();
      throw e;
    }
  }

  long objectId() {
    return objectId;
  }

  ObjectNode tree() {
    return tree;
  }

  boolean sameCluster() {
    return sameCluster;
  }

  /**
   * The object is on the target already: the target holds it (for a global object: every chunk),
   * or, for independent instances, the target has an object of that id.
   */
  boolean alreadyOnTarget() {
    if (!sameCluster) {
      return target.exists(objectId);
    }
    if (MetaTree.isGlobal(tree)) {
      return MetaTree.blobs(tree).values().stream().allMatch(blob -> onTarget(blob.instanceId()));
    }
    return MetaTree.instanceId(tree) == target.instanceId();
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
    long holder = sameCluster ? instanceId : primary.instanceId();
    BlobTransport transport = transports.get(holder);
    if (transport == null) {
      if (holder == primary.instanceId()) {
        transport = new SharedMemoryTransport(primary, false);
      } else {
        transport = new SharedMemoryTransport(IpcClient.connect(localSocketOf(cluster, holder, objectId)), true);
      }
      transports.put(holder, transport);
    }
    return transport;
  }

  private static long resolveId(IpcClient client, String object, String where) {
    if (ObjectIds.looksLikeId(object)) {
      return ObjectIds.parse(object);
    }
    try {
      return client.getName(object);
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS || e.code() == ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "no object named '" + object + "' on " + where, e);
      }
      throw e;
    }
  }

  /** True when {@code client}'s instance is a member of the cluster {@code cluster} describes. */
  private static boolean isMember(JsonNode cluster, IpcClient client) {
    JsonNode entry = cluster.path("i" + client.instanceId());
    return entry.isObject()
        && entry.path("ipc_socket").asText().equals(client.ipcSocket())
        && entry.path("rpc_endpoint").asText().equals(client.rpcEndpoint());
  }

  private static String localSocketOf(JsonNode cluster, long instance, long objectId) {
    String socket = cluster.path("i" + instance).path("ipc_socket").asText("");
    if (socket.isEmpty() || !Files.exists(Path.of(socket))) {
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "object " + ObjectIds.format(objectId) + " is held by instance " + instance + " ("
              + cluster.path("i" + instance).path("hostname").asText("unknown host")
              + "), whose IPC socket '" + socket + "' is not reachable from this host");
    }
    return socket;
  }

  @Override
  public void close() {
    transports.values().forEach(BlobTransport::close);
    primary.close();
  }
}
