package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.BlobTransfer;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ChunkPlan;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.StreamReader;
import io.v6d.migrate.transport.ThrottledProgress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Pulls blobs from the agent beside the source vineyardd: READ requests go out on one or more
 * connections, DATA frames come back and land straight in the target blobs' mappings
 * ({@link FrameDecoder}), each chunk checked against its CRC32C.
 */
public final class TcpPullTransport implements BlobTransport {
  private final AgentEndpoint endpoint;
  private final byte[] token;
  private final TcpOptions options;
  private final long timeoutMillis;
  private final AgentConnection primary;
  /** Every connection opened, for {@link #wire()}. */
  private final List<AgentConnection> opened = new java.util.concurrent.CopyOnWriteArrayList<>();
  /** The primary connection's grant id, asked for when a second connection first needs it. */
  private String grant;

  /** @param timeoutMillis how long the agent may be silent while we wait for it ({@link io.v6d.migrate.Timeouts}) */
  public TcpPullTransport(AgentEndpoint endpoint, byte[] token, TcpOptions options, long timeoutMillis) {
    this.endpoint = endpoint;
    this.token = token;
    this.options = options;
    this.timeoutMillis = timeoutMillis;
    this.primary = AgentConnection.open(endpoint, token, timeoutMillis, options.tls(), options.compression());
    opened.add(primary);
  }

  @Override
  public Wire wire() {
    return new Wire(opened.stream().mapToLong(AgentConnection::received).sum(), primary.compression().label(),
        primary.tls());
  }

  public AgentConnection primary() {
    return primary;
  }

  @Override
  public Map<Long, Long> sizes(long rootId, Collection<Long> sourceBlobIds) {
    return map(primary, rootId, sourceBlobIds, true);
  }

  /** One "map" request naming every root ("objects"; the agent reads their trees in one request). */
  @Override
  public Map<Long, Long> sizesOf(Map<Long, ? extends Collection<Long>> blobsByRoot) {
    java.util.Set<Long> all = new java.util.LinkedHashSet<>();
    blobsByRoot.values().forEach(all::addAll);
    ObjectNode request = idsRequest(all).put("leads", true);
    ArrayNode roots = request.putArray("objects");
    blobsByRoot.keySet().forEach(root -> roots.add(ObjectIds.format(root)));
    return checkedSizes(primary, all, primary.call("map", request).path("sizes"));
  }

  /**
   * Has the agent map the blobs for this connection; returns their sizes. The agent resolves
   * {@code rootId} (when given) itself and maps only blobs reachable from it, or from objects this
   * transport's connections named before. The first connection of a pull
   * {@code leads} it (the agent counts a pull once, by that connection).
   */
  private static Map<Long, Long> map(AgentConnection connection, Long rootId, Collection<Long> ids, boolean leads) {
    ObjectNode request = idsRequest(ids).put("leads", leads);
    if (rootId != null) {
      request.put("object", ObjectIds.format(rootId));
    }
    return checkedSizes(connection, ids, connection.call("map", request).path("sizes"));
  }

  /** The sizes the agent answered for {@code ids}, each one there and a valid size. */
  private static Map<Long, Long> checkedSizes(AgentConnection connection, Collection<Long> ids, JsonNode sizes) {
    Map<Long, Long> result = new LinkedHashMap<>();
    for (long id : ids) {
      JsonNode size = sizes.get(ObjectIds.format(id));
      if (size == null || !size.canConvertToLong()) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS,
            "blob " + ObjectIds.format(id) + " does not exist on the agent's instance at " + connection.endpoint());
      }
      result.put(id, Ranges.requireSize(size.asLong(), ErrorCode.IO_ERROR,
          () -> "the agent at " + connection.endpoint() + " says blob " + ObjectIds.format(id)));
    }
    return result;
  }

  @Override
  public void transfer(List<BlobTransfer> transfers, ProgressListener progress) {
    Map<Long, Blob> destinations = new HashMap<>();
    Map<Long, Long> sizes = new LinkedHashMap<>();
    for (BlobTransfer transfer : transfers) {
      destinations.put(transfer.sourceId(), transfer.target());
      sizes.put(transfer.sourceId(), transfer.target().size());
    }
    long total = Ranges.total(sizes.values(), ErrorCode.INVALID, () -> "the blobs to pull");
    int connections = ChunkPlan.connectionsFor(total, options.maxConnections());
    List<List<ChunkPlan.Chunk>> plan = ChunkPlan.split(sizes, options.chunkBytes(), connections);
    int chunkCount = plan.stream().mapToInt(List::size).sum();
    LandingSink sink = new LandingSink(destinations, chunkCount, new ThrottledProgress(progress, total, 50_000_000L));

    List<AgentConnection> extra = new ArrayList<>();
    try {
      List<CompletableFuture<Void>> failures = new ArrayList<>(List.of(primary.failure()));
      for (int i = 0; i < plan.size(); i++) {
        AgentConnection connection = i == 0 ? primary : openJoined();
        if (i > 0) {
          extra.add(connection);
          failures.add(connection.failure());
          map(connection, null, plan.get(i).stream().map(ChunkPlan.Chunk::blobId).distinct().toList(), false);
        }
        connection.sink(sink);
        connection.read(plan.get(i).stream()
            .map(c -> new ReadRequest(c.blobId(), c.offset(), c.length())).toList());
      }
      CompletableFuture<Object> outcome = CompletableFuture.anyOf(
          sink.done(), CompletableFuture.anyOf(failures.toArray(CompletableFuture[]::new)));
      // no deadline here: each connection fails by itself when the agent falls silent (AgentConnection)
      AgentConnection.await(outcome, Long.MAX_VALUE, "pulling " + total + " bytes from the agent at " + endpoint);
    } catch (RuntimeException e) {
      // Nothing may land in the target blobs once we return: they are about to be freed.
      extra.forEach(AgentConnection::close);
      primary.close();
      throw new MigrateException(e instanceof MigrateException m ? m.code() : ErrorCode.CONNECTION_ERROR,
          "pulling from the agent at " + endpoint + " failed after " + sink.landedBytes() + " of " + total
              + " bytes: " + e.getMessage(), e);
    } finally {
      extra.forEach(AgentConnection::close);
    }
  }

  @Override
  public void release(Collection<Long> sourceBlobIds) {
    primary.call("unmap", idsRequest(sourceBlobIds));
  }

  /** {"ids": [...]}: the blobs a map or unmap request names. */
  private static ObjectNode idsRequest(Collection<Long> ids) {
    ObjectNode request = FrameCodec.mapper().createObjectNode();
    ArrayNode list = request.putArray("ids");
    ids.forEach(id -> list.add(ObjectIds.format(id)));
    return request;
  }

  /**
   * Another connection that shares the primary's permissions (the agent's grant): it may map what
   * the primary's named objects and streams reach, and nothing else.
   */
  private AgentConnection openJoined() {
    AgentConnection connection = AgentConnection.open(endpoint, token, timeoutMillis, options.tls(), options.compression());
    opened.add(connection);
    try {
      connection.call("join", FrameCodec.mapper().createObjectNode().put("grant", grant()));
      return connection;
    } catch (RuntimeException e) {
      connection.close();
      throw e;
    }
  }

  private synchronized String grant() {
    if (grant == null) {
      grant = primary.call("grant", null).path("grant").asText();
    }
    return grant;
  }

  @Override
  public StreamReader openStreamReader() {
    AgentConnection connection = openJoined();
    return new StreamReader() {
      @Override
      public void open(long streamId) {
        connection.call("stream_open", FrameCodec.mapper().createObjectNode().put("id", ObjectIds.format(streamId)));
      }

      @Override
      public long next(long streamId) {
        // waits as long as the producer takes (the agent answers when a chunk exists), but the
        // agent must answer 'info' on a connection of its own once per timeout meanwhile
        return ObjectIds.parse(connection.callWaiting("stream_next",
            FrameCodec.mapper().createObjectNode().put("id", ObjectIds.format(streamId)), () -> checkAlive(streamId))
            .path("chunk").asText());
      }

      @Override
      public void close() {
        connection.close();
      }
    };
  }

  /** Throws unless the agent (and its vineyardd) answers a request on a fresh connection within the timeout. */
  private void checkAlive(long streamId) {
    try (AgentConnection probe = AgentConnection.open(endpoint, token, timeoutMillis, options.tls(), options.compression())) {
      probe.call("info", null);
    } catch (MigrateException e) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "waiting for the next chunk of stream "
          + ObjectIds.format(streamId) + " from the agent at " + endpoint + ": it stopped answering (" + e.getMessage() + ")", e);
    }
  }

  @Override
  public String endpoint() {
    return endpoint.toString();
  }

  @Override
  public String name() {
    return "tcp";
  }

  @Override
  public void close() {
    primary.close();
  }
}
