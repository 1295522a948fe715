package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.shm.LibC;
import io.v6d.migrate.shm.StoreMapping;
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
 * also ends the connection (vineyardd then drops this client's references to blobs).
 */
public final class VineyardClient implements AutoCloseable {
  private static final String PROTOCOL_VERSION = "0.24.2";
  /** Requests in flight at once when pipelining: small enough that replies never fill the socket. */
  private static final int PIPELINE_WINDOW = 128;

  private final FramedConnection connection;
  /** Opens another connection of the same kind to the same vineyardd (liveness checks). */
  private final java.util.function.Supplier<FramedConnection> reconnect;
  private final long instanceId;
  private final String ipcSocket;
  private final String rpcEndpoint;
  private final boolean compression;
  /** Mappings by the store fd number as vineyardd names it (not our local fd). */
  private final Map<Integer, StoreMapping> mappings = new HashMap<>();

  private VineyardClient(FramedConnection connection, java.util.function.Supplier<FramedConnection> reconnect,
      JsonNode registered) {
    this.connection = connection;
    this.reconnect = reconnect;
    this.instanceId = registered.path("instance_id").longValue();
    this.ipcSocket = registered.path("ipc_socket").asText("");
    this.compression = registered.path("support_rpc_compression").asBoolean(false);
    this.rpcEndpoint = registered.path("rpc_endpoint").asText("");
  }

  /** Connects to the vineyardd listening on {@code socketPath} and registers as a client. */
  public static VineyardClient connect(String socketPath) {
    return connect(socketPath, Timeouts.DEFAULT_MILLIS);
  }

  /** The same; vineyardd may be silent for at most {@code timeoutMillis} at a time ({@link Timeouts}). */
  public static VineyardClient connect(String socketPath, long timeoutMillis) {
    return register(() -> UnixConnection.open(socketPath, timeoutMillis));
  }

  /** Connects to vineyardd's RPC port ({@code host:port}); metadata only, and remote blobs. */
  public static VineyardClient connectRpc(String endpoint, long timeoutMillis) {
    return register(() -> TcpConnection.open(endpoint, timeoutMillis));
  }

  /** Registrations with any vineyardd since this process started (to see pooled connections reused). */
  public static long registrations() {
    return REGISTRATIONS.get();
  }

  private static final java.util.concurrent.atomic.AtomicLong REGISTRATIONS = new java.util.concurrent.atomic.AtomicLong();

  private static VineyardClient register(java.util.function.Supplier<FramedConnection> open) {
    FramedConnection connection = open.get();
    REGISTRATIONS.incrementAndGet();
    String socketPath = connection.peer();
    try {
      ObjectNode request = FrameCodec.newMessage("register_request")
          .put("version", PROTOCOL_VERSION)
          .put("store_type", "Normal")
          .put("session_id", 0)
          .put("username", "")
          .put("password", "");
      JsonNode reply = connection.call(request, "register_reply");
      if (!reply.path("store_match").asBoolean(true)) {
        throw new MigrateException(ErrorCode.INVALID, "vineyardd at " + socketPath + " uses another store type");
      }
      return new VineyardClient(connection, open, reply);
    } catch (RuntimeException e) {
      connection.close();
      throw e;
    }
  }

  public long instanceId() {
    return instanceId;
  }

  public String ipcSocket() {
    return ipcSocket;
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
    return connection.looksOpen();
  }

  /** Another client of the same vineyardd, over the same kind of connection, with the same timeout. */
  public VineyardClient reconnect() {
    return register(reconnect);
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
    pipelined(ids.size(), i -> JsonIds.put(FrameCodec.newMessage("persist_request"), "id", ids.get(i)),
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
    receiveStores(reply.path("fds"), payloads);
    for (JsonNode payload : payloads) {
      Blob blob = toBlob(payload);
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
    return toCreatedBlob(connection.call(request, "create_buffer_reply"), size);
  }

  /**
   * Allocates many blobs, their requests pipelined ({@link #PIPELINE_WINDOW} in flight) rather than
   * one round trip each. Each blob is handed to {@code created} as soon as it exists, so a caller
   * can free them if a later one fails; the first failure is thrown once the window drains.
   */
  public void createBuffers(List<Long> sizes, java.util.function.Consumer<Blob> created) {
    pipelined(sizes.size(),
        i -> FrameCodec.newMessage("create_buffer_request").put("size", sizes.get(i)),
        (reply, i) -> created.accept(toCreatedBlob(reply, sizes.get(i))), "create_buffer_request", "create_buffer_reply");
  }

  /** Seals many blobs, pipelined; {@code sealed} hears of each as it is sealed. */
  public void seal(List<Long> blobIds, java.util.function.LongConsumer sealed) {
    pipelined(blobIds.size(), i -> JsonIds.put(FrameCodec.newMessage("seal_request"), "object_id", blobIds.get(i)),
        (reply, i) -> sealed.accept(blobIds.get(i)), "seal_request", "seal_reply");
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

  /** Requests sent in windows and their replies read in order: latency paid once per window. */
  private void pipelined(int count, java.util.function.IntFunction<ObjectNode> request,
      java.util.function.ObjIntConsumer<JsonNode> onReply, String requestType, String replyType) {
    MigrateException first = null;
    for (int start = 0; start < count && first == null; start += PIPELINE_WINDOW) {
      int end = Math.min(count, start + PIPELINE_WINDOW);
      for (int i = start; i < end; i++) {
        connection.send(request.apply(i));
      }
      for (int i = start; i < end; i++) {
        try {
          onReply.accept(connection.checked(connection.receive(), replyType, requestType), i);
        } catch (MigrateException e) {
          if (first == null) {
            first = e;
          }
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private Blob toCreatedBlob(JsonNode reply, long size) {
    JsonNode payload = reply.path("created");
    int fd = reply.path("fd").asInt(-1);
    if (fd != -1) {
      receiveStores(FrameCodec.mapper().createArrayNode().add(fd), FrameCodec.mapper().createArrayNode().add(payload));
    }
    Blob blob = toBlob(payload);
    if (blob.size() != size) {
      throw new MigrateException(
          ErrorCode.ASSERTION_FAILED, "asked for a blob of " + size + " bytes, vineyardd made " + blob.size());
    }
    return blob;
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
   * already are skipped. A connection kept open (pooled) must, or it pins their memory.
   */
  public void release(java.util.Collection<Long> blobIds) {
    List<Long> ids = List.copyOf(blobIds);
    MigrateException failure = null;
    try {
      pipelined(ids.size(), i -> JsonIds.put(FrameCodec.newMessage("release_request"), "object_id", ids.get(i)),
          (reply, i) -> { }, "release_request", "release_reply");
    } catch (MigrateException e) {
      failure = e;
    }
    if (failure != null && failure.code() != ErrorCode.OBJECT_NOT_EXISTS) {
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
   * for {@link #CLUSTER_META_TTL_NANOS} per instance: vineyardd answers it slowly (it asks its
   * metadata backend), and membership changes far more rarely than objects move.
   */
  public JsonNode clusterMeta() {
    String key = connection.peer() + "#" + instanceId;
    CachedMeta cached = CLUSTER_META.get(key);
    long now = System.nanoTime();
    if (cached != null && now - cached.at() < CLUSTER_META_TTL_NANOS) {
      return cached.meta();
    }
    JsonNode meta = connection.call(FrameCodec.newMessage("cluster_meta"), "cluster_meta").path("meta");
    CLUSTER_META.put(key, new CachedMeta(meta, now));
    return meta;
  }

  private record CachedMeta(JsonNode meta, long at) {}

  private static final long CLUSTER_META_TTL_NANOS = 2_000_000_000L;
  private static final Map<String, CachedMeta> CLUSTER_META = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Receives the descriptors vineyardd announced in a reply (in the order it lists them, one message
   * each) and maps each store with the map size its payloads give.
   */
  private void receiveStores(JsonNode fds, JsonNode payloads) {
    List<Integer> announced = new ArrayList<>();
    fds.forEach(fd -> announced.add(fd.asInt()));
    for (int storeFd : announced) {
      long mapSize = -1;
      for (JsonNode payload : payloads) {
        if (payload.path("store_fd").asInt() == storeFd) {
          mapSize = Math.max(mapSize, payload.path("map_size").longValue());
        }
      }
      int localFd = connection.receiveFd();
      if (mapSize <= 0) {
        LibC.get().close(localFd); // announced but not sized by any payload: nothing to map
        continue;
      }
      StoreMapping previous = mappings.put(storeFd, StoreMapping.map(localFd, mapSize));
      if (previous != null) {
        previous.close();
      }
    }
  }

  private Blob toBlob(JsonNode payload) {
    long id = payload.path("object_id").longValue();
    long size = Ranges.requireSize(payload.path("data_size").longValue(), ErrorCode.IO_ERROR,
        () -> "vineyardd at " + ipcSocket + " says blob " + ObjectIds.format(id));
    if (size == 0) {
      return new Blob(id, 0, 0);
    }
    StoreMapping store = mappings.get(payload.path("store_fd").asInt());
    if (store == null) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "vineyardd at " + ipcSocket + " named a store that was never passed to this client");
    }
    return new Blob(id, size, store.address(payload.path("data_offset").longValue(), size));
  }

  @Override
  public void close() {
    connection.close();
    mappings.values().forEach(StoreMapping::close);
    mappings.clear();
  }
}
