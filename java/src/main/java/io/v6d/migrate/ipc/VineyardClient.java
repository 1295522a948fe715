package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A client of one vineyardd: metadata and names over its IPC socket or its RPC port, and, over the
 * IPC socket, blobs mapped in shared memory.
 *
 * <p>Each method is one request of vineyard's IPC protocol ({@code src/common/util/protocols.cc});
 * errors come back as {@link MigrateException} with vineyard's status code. Store files are mapped
 * the first time vineyardd passes their descriptor and stay mapped until {@link #close()}, which
 * also ends the connection (vineyardd then drops this client's references to blobs). Requests
 * whose reply nobody waits for (seals before the metadata, releases) are deferred: their replies
 * are read before the next one ({@link FramedConnection#sendDeferred}).
 */
public final class VineyardClient implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(VineyardClient.class);

  private final FramedConnection connection;
  /** Opens another connection of the same kind to the same vineyardd (liveness checks). */
  private final java.util.function.Supplier<FramedConnection> reconnect;
  private final long instanceId;
  private final String ipcSocket;
  private final String rpcEndpoint;
  private final boolean compression;
  private final StoreMappings stores;
  /** {@link SocketIdentity} of the IPC socket, read once: the vineyardd behind a connection never changes. */
  private String storeIdentity;
  /** A deferred release failed: this connection may hold a blob reference, so it must not be kept. */
  private boolean mayPin;

  VineyardClient(FramedConnection connection, java.util.function.Supplier<FramedConnection> reconnect,
      JsonNode registered) {
    this.connection = connection;
    this.reconnect = reconnect;
    this.instanceId = registered.path("instance_id").longValue();
    this.ipcSocket = registered.path("ipc_socket").asText("");
    this.compression = registered.path("support_rpc_compression").asBoolean(false);
    this.rpcEndpoint = registered.path("rpc_endpoint").asText("");
    this.stores = new StoreMappings(ipcSocket);
  }

  /** Connects to the vineyardd listening on {@code socketPath} and registers as a client. */
  public static VineyardClient connect(String socketPath) {
    return connect(socketPath, Timeouts.DEFAULT_MILLIS);
  }

  /** The same; vineyardd may be silent for at most {@code timeoutMillis} at a time ({@link Timeouts}). */
  public static VineyardClient connect(String socketPath, long timeoutMillis) {
    return Registration.register(() -> UnixConnection.open(socketPath, timeoutMillis));
  }

  /** Connects to vineyardd's RPC port ({@code host:port}); metadata only, and remote blobs. */
  public static VineyardClient connectRpc(String endpoint, long timeoutMillis) {
    return Registration.register(() -> TcpConnection.open(endpoint, timeoutMillis));
  }

  /** Registrations with any vineyardd since this process started (to see pooled connections reused). */
  public static long registrations() {
    return Registration.count();
  }

  public long instanceId() {
    return instanceId;
  }

  public String ipcSocket() {
    return ipcSocket;
  }

  /** The identity of the vineyardd process behind this connection's IPC socket ({@link SocketIdentity}). */
  public String storeIdentity() {
    if (storeIdentity == null) {
      storeIdentity = SocketIdentity.of(ipcSocket);
    }
    return storeIdentity;
  }

  public String rpcEndpoint() {
    return rpcEndpoint;
  }

  /** Whether vineyardd offers compressed remote blobs (its --compression). */
  public boolean supportsCompression() {
    return compression;
  }

  /** How long vineyardd may be silent while we wait for it. */
  public long timeoutMillis() {
    return connection.timeoutMillis();
  }

  /**
   * Whether this idle connection looks usable without a request (a non-blocking peek finds no end
   * of stream); {@code null} when its kind of connection cannot tell.
   */
  public Boolean looksOpen() {
    try {
      connection.completeDeferred(); // replies of deferred releases, long arrived: read before the peek
    } catch (MigrateException e) {
      LOG.debug("connection to {} not reused: {}", ipcSocket, e.getMessage());
      return false;
    }
    return mayPin ? Boolean.FALSE : connection.looksOpen();
  }

  /** Reads deferred replies, throwing the first that failed (a seal): no success reported over it. */
  public void completeDeferred() {
    connection.completeDeferred();
  }

  /**
   * Whether this connection may still hold a blob reference it was asked to drop (a deferred
   * release failed); it must then be closed, not pooled. Reads deferred replies first.
   */
  public boolean mayPin() {
    try {
      connection.drainDeferred();
    } catch (MigrateException e) {
      return true;
    }
    return mayPin;
  }

  /** Another client of the same vineyardd, over the same kind of connection, with the same timeout. */
  public VineyardClient reconnect() {
    return Registration.register(reconnect);
  }

  /** Throws unless vineyardd answers a request on a new connection within the timeout (see StreamRequests). */
  public void checkAlive() {
    try (VineyardClient probe = reconnect()) {
      probe.instanceStatus();
    }
  }

  /** The connection, for requests whose payload follows the reply (remote blobs). */
  public FramedConnection connection() {
    return connection;
  }

  /** The full metadata tree of an object, members expanded. */
  public ObjectNode getData(long id, boolean syncRemote) {
    ObjectNode request = FrameCodec.newMessage("get_data_request")
        .put("sync_remote", syncRemote)
        .put("wait", false);
    JsonIds.array(request, "id", List.of(id));
    JsonNode content = connection.call(request, "get_data_reply").path("content");
    Iterator<JsonNode> trees = content.elements();
    if (!trees.hasNext()) {
      throw new MigrateException(
          ErrorCode.OBJECT_NOT_EXISTS, "object " + ObjectIds.format(id) + " does not exist on " + ipcSocket);
    }
    JsonNode tree = trees.next();
    if (!tree.isObject() || tree.isEmpty()) {
      throw new MigrateException(
          ErrorCode.OBJECT_NOT_EXISTS, "object " + ObjectIds.format(id) + " does not exist on " + ipcSocket);
    }
    return (ObjectNode) tree;
  }

  /** The trees of many objects (or blobs) in one request; ids vineyardd does not know are left out. */
  public Map<Long, JsonNode> getDatas(Collection<Long> ids, boolean syncRemote) {
    ObjectNode request = FrameCodec.newMessage("get_data_request").put("sync_remote", syncRemote).put("wait", false);
    JsonIds.array(request, "id", ids);
    Map<Long, JsonNode> trees = new HashMap<>();
    connection.call(request, "get_data_reply").path("content").fields()
        .forEachRemaining(entry -> trees.put(ObjectIds.parse(entry.getKey()), entry.getValue()));
    return trees;
  }

  /**
   * The metadata of this instance's objects whose typename matches a glob {@code pattern}, at most
   * {@code limit}, by id (vineyard's list_data, answered as a get_data_reply; unsealed blobs are
   * never listed).
   */
  public Map<Long, JsonNode> listData(String pattern, int limit) {
    ObjectNode request = FrameCodec.newMessage("list_data_request").put("pattern", pattern).put("regex", false)
        .put("limit", limit);
    Map<Long, JsonNode> objects = new LinkedHashMap<>();
    connection.call(request, "get_data_reply").path("content").fields()
        .forEachRemaining(e -> objects.put(ObjectIds.parse(e.getKey()), e.getValue()));
    return objects;
  }

  public boolean exists(long id) {
    ObjectNode request = FrameCodec.newMessage("exists_request");
    JsonIds.put(request, "id", id);
    return connection.call(request, "exists_reply").path("exists").asBoolean(false);
  }

  public long getName(String name) {
    ObjectNode request = FrameCodec.newMessage("get_name_request").put("name", name).put("wait", false);
    return connection.call(request, "get_name_reply").path("object_id").longValue();
  }

  public void putName(long id, String name) {
    ObjectNode request = FrameCodec.newMessage("put_name_request").put("name", name);
    JsonIds.put(request, "object_id", id);
    connection.call(request, "put_name_reply");
  }

  public CreatedObject createData(JsonNode content) {
    ObjectNode request = FrameCodec.newMessage("create_data_request");
    request.set("content", content);
    JsonNode reply = connection.call(request, "create_data_reply");
    return new CreatedObject(
        reply.path("id").longValue(), reply.path("signature").longValue(), reply.path("instance_id").longValue());
  }

  public void persist(long id) {
    ObjectNode request = FrameCodec.newMessage("persist_request");
    JsonIds.put(request, "id", id);
    connection.call(request, "persist_reply");
  }

  /** Persists many objects, their requests pipelined (vineyardd's persist takes one id a request). */
  public void persist(List<Long> ids) {
    Pipeline.run(connection, ids.size(), i -> JsonIds.put(FrameCodec.newMessage("persist_request"), "id", ids.get(i)),
        (reply, i) -> { }, "persist_request", "persist_reply");
  }

  /** Deletes objects (metadata; with {@code deep}, their members too). */
  public void delete(Collection<Long> ids, boolean force, boolean deep) {
    ObjectNode request = FrameCodec.newMessage("del_data_request")
        .put("force", force)
        .put("deep", deep)
        .put("fastpath", false)
        .put("memory_trim", false);
    JsonIds.array(request, "id", ids);
    connection.call(request, "del_data_reply");
  }

  /** The bytes of sealed blobs, mapped; every id must exist on this instance. */
  public Map<Long, Blob> getBuffers(Collection<Long> ids) {
    Map<Long, Blob> blobs = new LinkedHashMap<>();
    if (ids.isEmpty()) {
      return blobs;
    }
    ObjectNode request = FrameCodec.newMessage("get_buffers_request").put("num", ids.size()).put("unsafe", false);
    JsonIds.array(request, "ids", ids);
    JsonNode reply = connection.call(request, "get_buffers_reply");
    JsonNode payloads = reply.path("payloads");
    stores.receive(connection, reply.path("fds"), payloads);
    for (JsonNode payload : payloads) {
      Blob blob = stores.blob(payload);
      blobs.put(blob.id(), blob);
    }
    for (long id : ids) {
      if (!blobs.containsKey(id)) {
        throw new MigrateException(
            ErrorCode.OBJECT_NOT_EXISTS, "blob " + ObjectIds.format(id) + " does not exist on " + ipcSocket);
      }
    }
    return blobs;
  }

  /** Allocates an unsealed blob of {@code size} bytes, mapped writable. */
  public Blob createBuffer(long size) {
    ObjectNode request = FrameCodec.newMessage("create_buffer_request").put("size", size);
    return stores.created(connection, connection.call(request, "create_buffer_reply"), size);
  }

  /**
   * Allocates many blobs, their requests pipelined ({@link Pipeline#WINDOW} in flight) rather than
   * one round trip each. Each blob is handed to {@code created} as soon as it exists, so a caller
   * can free them if a later one fails; the first failure is thrown once the window drains.
   */
  public void createBuffers(List<Long> sizes, java.util.function.Consumer<Blob> created) {
    Pipeline.run(connection, sizes.size(),
        i -> FrameCodec.newMessage("create_buffer_request").put("size", sizes.get(i)),
        (reply, i) -> created.accept(stores.created(connection, reply, sizes.get(i))), "create_buffer_request",
        "create_buffer_reply");
  }

  /** Seals many blobs, pipelined; {@code sealed} hears of each as it is sealed. */
  public void seal(List<Long> blobIds, java.util.function.LongConsumer sealed) {
    Pipeline.run(connection, blobIds.size(),
        i -> JsonIds.put(FrameCodec.newMessage("seal_request"), "object_id", blobIds.get(i)),
        (reply, i) -> sealed.accept(blobIds.get(i)), "seal_request", "seal_reply");
  }

  /**
   * Seals blobs and drops the references sealing gives this connection, deferred: the replies are
   * read with the next request's (the metadata that refers to the blobs), so this costs no round
   * trip. {@code sealed} hears of each blob sealed; a failed seal is thrown by
   * {@link #completeDeferred}. A sealed blob stays until deleted, referenced or not.
   */
  public void sealAndReleaseDeferred(List<Long> blobIds, java.util.function.LongConsumer sealed) {
    for (long id : blobIds) {
      connection.sendDeferred(JsonIds.put(FrameCodec.newMessage("seal_request"), "object_id", id), "seal_reply",
          reply -> sealed.accept(id), null);
    }
    releaseDeferred(blobIds.stream().filter(id -> !ObjectIds.isEmptyBlob(id)).toList());
  }

  /**
   * Drops this connection's references to blobs, deferred: the replies are read before the next
   * reply, or when the pool next looks at the connection. A blob gone already is fine; any other
   * failure marks the connection as one that may pin memory ({@link #mayPin}), to be closed.
   */
  public void releaseDeferred(Collection<Long> blobIds) {
    for (long id : blobIds) {
      connection.sendDeferred(JsonIds.put(FrameCodec.newMessage("release_request"), "object_id", id),
          "release_reply", reply -> { }, failure -> {
            if (failure.code() != ErrorCode.OBJECT_NOT_EXISTS) {
              LOG.debug("vineyardd at {} did not release blob {}: {}", ipcSocket, ObjectIds.format(id),
                  failure.getMessage());
              mayPin = true;
            }
          });
    }
  }

  /** Creates many metadata objects in one request (vineyard's create_datas). */
  public List<CreatedObject> createDatas(List<? extends JsonNode> contents) {
    ObjectNode request = FrameCodec.newMessage("create_datas_request").put("num", contents.size());
    request.putArray("contents").addAll(contents.stream().map(JsonNode.class::cast).toList());
    JsonNode reply = connection.call(request, "create_datas_reply");
    List<CreatedObject> created = new ArrayList<>();
    for (int i = 0; i < contents.size(); i++) {
      created.add(new CreatedObject(reply.path("ids").path(i).longValue(), reply.path("signatures").path(i).longValue(),
          reply.path("instance_ids").path(i).longValue()));
    }
    return created;
  }

  public void seal(long blobId) {
    ObjectNode request = FrameCodec.newMessage("seal_request");
    JsonIds.put(request, "object_id", blobId);
    connection.call(request, "seal_reply");
  }

  /** Frees an unsealed blob. */
  public void dropBuffer(long blobId) {
    ObjectNode request = FrameCodec.newMessage("drop_buffer_request");
    JsonIds.put(request, "id", blobId);
    connection.call(request, "drop_buffer_reply");
  }

  public void dropName(String name) {
    connection.call(FrameCodec.newMessage("drop_name_request").put("name", name), "drop_name_reply");
  }

  /**
   * Drops this connection's references to blobs it got or sealed, pipelined; blobs that are gone
   * already are skipped. A connection kept open (pooled) must, or it pins their memory. Every
   * blob is asked for, even after a failure (a window stops at its first failure, so each window
   * runs on its own); the first failure other than a blob gone is thrown at the end.
   */
  public void release(java.util.Collection<Long> blobIds) {
    List<Long> ids = List.copyOf(blobIds);
    MigrateException failure = null;
    for (int from = 0; from < ids.size(); from += Pipeline.WINDOW) {
      List<Long> window = ids.subList(from, Math.min(ids.size(), from + Pipeline.WINDOW));
      try {
        Pipeline.run(connection, window.size(),
            i -> JsonIds.put(FrameCodec.newMessage("release_request"), "object_id", window.get(i)),
            (reply, i) -> { }, "release_request", "release_reply");
      } catch (MigrateException e) {
        if (e.code() != ErrorCode.OBJECT_NOT_EXISTS && failure == null) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Drops this connection's reference to a blob it got or created, so vineyardd may free it. */
  public void release(long blobId) {
    ObjectNode request = FrameCodec.newMessage("release_request");
    JsonIds.put(request, "object_id", blobId);
    connection.call(request, "release_reply");
  }

  /** Stream requests on this connection. */
  public StreamRequests streams() {
    return new StreamRequests(connection, this::checkAlive);
  }

  /** instance_id, memory_usage, memory_limit, ... of this instance. */
  public JsonNode instanceStatus() {
    return connection.call(FrameCodec.newMessage("instance_status_request"), "instance_status_reply").path("meta");
  }

  /**
   * Every instance of the cluster by instance id: ipc_socket, rpc_endpoint, hostname, ... Cached
   * for a while per instance ({@link ClusterMetaCache}).
   */
  public JsonNode clusterMeta() {
    return ClusterMetaCache.get(connection, instanceId);
  }

  @Override
  public void close() {
    connection.close();
    stores.close();
  }
}
