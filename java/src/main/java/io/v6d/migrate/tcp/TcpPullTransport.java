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
  private final AgentLink.Lease lease;
  private final AgentLink link;
  private final AgentEndpoint endpoint;
  private final TcpOptions options;
  /** Every connection used, for {@link #wire()}, with the bytes each had received before. */
  private final Map<AgentConnection, Long> used = new java.util.LinkedHashMap<>();
  /** What this transport mapped on each connection: unmapped before the link goes back to the pool. */
  private final Map<AgentConnection, java.util.Set<Long>> mappedOn = new java.util.LinkedHashMap<>();
  private boolean broken;
  /** Sizes of the blobs the primary mapped with the object's tree ({@link #premapped}), by id. */
  private final Map<Long, JsonNode> premapped = new HashMap<>();

  /** Pulls through the leased link; gives it back on {@link #close()} when nothing went wrong. */
  public TcpPullTransport(AgentLink.Lease lease, TcpOptions options) {
    this.lease = lease;
    this.link = lease.link();
    this.endpoint = link.endpoint();
    this.options = options;
  }

  @Override
  public Wire wire() {
    long received = used.entrySet().stream().mapToLong(e -> e.getKey().received() - e.getValue()).sum();
    return new Wire(received, link.primary().compression().label(), link.primary().tls());
  }

  /** The link this transport pulls through (its primary answers the source's metadata requests). */
  public AgentLink link() {
    return link;
  }

  private AgentConnection use(int index) {
    AgentConnection connection = link.connection(index);
    used.putIfAbsent(connection, connection.received());
    return connection;
  }

  /**
   * The agent mapped these blobs on the primary when it answered the object's tree ("meta" with
   * "map"): a {@link #sizes} of them asks nothing, and closing unmaps them as any mapped blob.
   */
  public void premapped(JsonNode sizes) {
    List<Long> ids = new ArrayList<>();
    sizes.fields().forEachRemaining(e -> {
      long id = ObjectIds.parse(e.getKey());
      ids.add(id);
      premapped.put(id, e.getValue());
    });
    mapped(use(0), ids);
  }

  @Override
  public Map<Long, Long> sizes(long rootId, Collection<Long> sourceBlobIds) {
    if (!sourceBlobIds.isEmpty() && premapped.keySet().containsAll(sourceBlobIds)) {
      ObjectNode known = FrameCodec.mapper().createObjectNode();
      sourceBlobIds.forEach(id -> known.set(ObjectIds.format(id), premapped.get(id)));
      return sizesIn(FrameCodec.mapper().createObjectNode().set("sizes", known), sourceBlobIds);
    }
    ObjectNode request = idsRequest(sourceBlobIds).put("leads", true).put("object", ObjectIds.format(rootId));
    Map<Long, Long> sizes = sizesIn(link.call("map", request), sourceBlobIds);
    mapped(use(0), sourceBlobIds);
    return sizes;
  }

  /** One "map" request naming every root ("objects"; the agent reads their trees in one request). */
  @Override
  public Map<Long, Long> sizesOf(Map<Long, ? extends Collection<Long>> blobsByRoot) {
    java.util.Set<Long> all = new java.util.LinkedHashSet<>();
    blobsByRoot.values().forEach(all::addAll);
    ObjectNode request = idsRequest(all).put("leads", true);
    ArrayNode roots = request.putArray("objects");
    blobsByRoot.keySet().forEach(root -> roots.add(ObjectIds.format(root)));
    Map<Long, Long> sizes = sizesIn(link.call("map", request), all);
    mapped(use(0), all);
    return sizes;
  }

  private void mapped(AgentConnection connection, Collection<Long> ids) {
    mappedOn.computeIfAbsent(connection, c -> new java.util.LinkedHashSet<>()).addAll(ids);
  }

  /**
   * The sizes a "map" reply gives. The agent resolves the object a request names itself and maps
   * only blobs reachable from it, or from objects the link's connections named before; the first
   * connection of a pull {@code leads} it (the agent counts a pull once, by that connection).
   */
  private Map<Long, Long> sizesIn(JsonNode reply, Collection<Long> ids) {
    JsonNode sizes = reply.path("sizes");
    Map<Long, Long> result = new LinkedHashMap<>();
    for (long id : ids) {
      JsonNode size = sizes.get(ObjectIds.format(id));
      if (size == null || !size.canConvertToLong()) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS,
            "blob " + ObjectIds.format(id) + " does not exist on the agent's instance at " + endpoint);
      }
      result.put(id, Ranges.requireSize(size.asLong(), ErrorCode.IO_ERROR,
          () -> "the agent at " + endpoint + " says blob " + ObjectIds.format(id)));
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

    List<AgentConnection> connectionsUsed = new ArrayList<>();
    boolean landed = false;
    try {
      List<CompletableFuture<Void>> failures = new ArrayList<>();
      // the other connections map their blobs meanwhile: one round trip for all, not one each
      List<CompletableFuture<JsonNode>> maps = new ArrayList<>();
      for (int i = 0; i < plan.size(); i++) {
        AgentConnection connection = use(i);
        connectionsUsed.add(connection);
        failures.add(connection.failure());
        maps.add(i == 0 ? null : connection.send("map", idsRequest(blobsOf(plan.get(i))).put("leads", false)));
      }
      for (int i = 0; i < plan.size(); i++) {
        AgentConnection connection = connectionsUsed.get(i);
        if (i > 0) {
          List<Long> ids = blobsOf(plan.get(i));
          sizesIn(AgentConnection.await(maps.get(i), connection.timeoutMillis(), "'map' on the agent at " + endpoint), ids);
          mapped(connection, ids);
        }
        connection.sink(sink);
        connection.read(plan.get(i).stream()
            .map(c -> new ReadRequest(c.blobId(), c.offset(), c.length())).toList());
      }
      CompletableFuture<Object> outcome = CompletableFuture.anyOf(
          sink.done(), CompletableFuture.anyOf(failures.toArray(CompletableFuture[]::new)));
      // no deadline here: each connection fails by itself when the agent falls silent (AgentConnection)
      AgentConnection.await(outcome, Long.MAX_VALUE, "pulling " + total + " bytes from the agent at " + endpoint);
      landed = sink.done().isDone() && !sink.done().isCompletedExceptionally();
    } catch (RuntimeException e) {
      // Nothing may land in the target blobs once we return: they are about to be freed.
      broken = true;
      link.close();
      throw new MigrateException(e instanceof MigrateException m ? m.code() : ErrorCode.CONNECTION_ERROR,
          "pulling from the agent at " + endpoint + " failed after " + sink.landedBytes() + " of " + total
              + " bytes: " + e.getMessage(), e);
    } finally {
      // DATA of a later pull on these connections must not land in this pull's blobs: once every
      // chunk has landed the sink refuses more by itself, else its removal is waited for
      for (AgentConnection c : connectionsUsed) {
        if (landed) {
          c.dropFinishedSink();
        } else {
          c.sink(null);
        }
      }
    }
  }

  private static List<Long> blobsOf(List<ChunkPlan.Chunk> chunks) {
    return chunks.stream().map(ChunkPlan.Chunk::blobId).distinct().toList();
  }

  @Override
  public void release(Collection<Long> sourceBlobIds) {
    link.call("unmap", idsRequest(sourceBlobIds));
    mappedOn.values().forEach(ids -> ids.removeAll(sourceBlobIds));
  }

  /** {"ids": [...]}: the blobs a map or unmap request names. */
  private static ObjectNode idsRequest(Collection<Long> ids) {
    ObjectNode request = FrameCodec.mapper().createObjectNode();
    ArrayNode list = request.putArray("ids");
    ids.forEach(id -> list.add(ObjectIds.format(id)));
    return request;
  }

  @Override
  public StreamReader openStreamReader() {
    AgentConnection connection = link.openJoined();
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
    AgentLink.Key key = link.key();
    try (AgentConnection probe = AgentConnection.open(endpoint, link.token(), key.timeoutMillis(), key.tls(),
        key.compression())) {
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

  /**
   * Gives the link back to the pool with nothing mapped (a pooled link must not keep the source's
   * blobs alive; "forget" drops the objects the grant was given, so a long-lived link's grant does
   * not grow), or closes it when anything failed.
   */
  @Override
  public void close() {
    try {
      if (!broken && link.isOpen()) {
        // not awaited (a round trip less per call): the agent answers in order, so the link's next
        // request is served after the unmaps; a failed unmap costs only the link: its connection
        // is dropped (the agent then unmaps everything it held), and so is the link at its next lease
        mappedOn.forEach((connection, ids) -> {
          if (!ids.isEmpty() && connection != link.primary()) {
            unmapLater(connection, idsRequest(ids));
          }
        });
        unmapLater(link.primary(), idsRequest(mappedOn.getOrDefault(link.primary(), java.util.Set.of()))
            .put("forget", true));
        lease.keep();
      }
    } finally {
      lease.close();
    }
  }

  private static void unmapLater(AgentConnection connection, ObjectNode request) {
    connection.send("unmap", request).whenComplete((reply, failure) -> {
      if (failure != null) {
        connection.abandon();
      }
    });
  }
}
