package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.metrics.PullMetrics;
import io.v6d.migrate.tcp.ChunkWriter;
import io.v6d.migrate.tcp.Pipelines;
import io.v6d.migrate.tcp.ReadRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of one agent connection: the peer reads metadata ("meta", "metas"), maps the
 * blobs of objects it named ("map", or "meta" with {@code "map": true}), READs them, and unmaps
 * them ("unmap"). What the peer may map and READ is its {@link PeerScope}'s to say.
 */
final class SourceRequests {
  private static final Logger LOG = LoggerFactory.getLogger(SourceRequests.class);

  private final PeerScope scope;
  private final Supplier<VineyardClient> vineyard;
  private final PullMetrics pull = new PullMetrics();
  /** How DATA this agent sends on this connection is compressed, as the peer asked ("compression"). */
  private volatile ChunkCompressor compressor;
  /** Our DATA writes whose chunks a codec thread may still be compressing from the mappings. */
  private final Set<ChunkWriter> compressing = ConcurrentHashMap.newKeySet();
  /** The tree this connection's last "meta" read, which its "map" of that object need not read again. */
  private long lastTreeId;
  private JsonNode lastTree;
  /** The trees this connection's last "metas" read (a batch's "map" that follows permits from them). */
  private Map<Long, JsonNode> lastTrees = Map.of();

  SourceRequests(PeerScope scope, Supplier<VineyardClient> vineyard) {
    this.scope = scope;
    this.vineyard = vineyard;
  }

  PullMetrics pull() {
    return pull;
  }

  /** Answers {@code op} into {@code reply}; false when it is not a request of the source side. */
  boolean handle(String op, JsonNode request, ObjectNode reply) {
    switch (op) {
      case "compression" -> {
        Compression asked = Compression.parse(request.path("compression").asText("none"));
        compressor = asked == Compression.NONE ? null
            : new ChunkCompressor(asked, request.path(ChunkCompressor.DECODES_SHUFFLED).asBoolean(false));
        reply.put("compression", asked.label()).put(ChunkCompressor.DECODES_SHUFFLED, true);
      }
      case "meta" -> {
        long id = ObjectIds.parse(request.path("id").asText());
        ObjectNode tree = vineyard.get().getData(id, request.path("sync_remote").asBoolean());
        lastTreeId = id;
        lastTree = tree;
        reply.set("tree", tree);
        if (request.path("map").asBoolean(false)) {
          mapOwnBlobs(id, tree, reply);
        }
      }
      case "metas" -> {
        ObjectNode trees = reply.putObject("trees");
        lastTrees = vineyard.get().getDatas(ids(request), request.path("sync_remote").asBoolean());
        lastTrees.forEach((id, tree) -> trees.set(ObjectIds.format(id), tree));
      }
      case "map" -> {
        if (request.hasNonNull("object")) {
          long root = ObjectIds.parse(request.path("object").asText());
          scope.permitObject(vineyard.get(), root, root == lastTreeId ? lastTree : null);
        }
        if (request.has("objects")) { // a batch names all its objects in one request
          List<Long> roots = new ArrayList<>();
          request.path("objects").forEach(id -> roots.add(ObjectIds.parse(id.asText())));
          scope.permitObjects(vineyard.get(), roots, lastTrees);
        }
        ObjectNode sizes = reply.putObject("sizes");
        scope.map(vineyard.get(), ids(request)).forEach((id, size) -> sizes.put(ObjectIds.format(id), size));
      }
      case "unmap" -> {
        scope.unmap(vineyard.get(), ids(request));
        if (request.path("forget").asBoolean(false)) {
          scope.forgetObjects(); // a pooled client's migration ended: its grant must not grow without bound
          lastTrees = Map.of();
          pull.ended();
        }
      }
      default -> {
        return false;
      }
    }
    return true;
  }

  /**
   * "meta" with {@code "map": true}: the peer is about to copy the object, so the blobs of it that
   * this instance holds are mapped at once and their sizes answered ("sizes"), one round trip
   * instead of "meta" then "map". Permitted exactly as a "map" naming the object is. A failure to
   * map leaves "sizes" out: the peer's own "map" then asks again and gets the error.
   */
  private void mapOwnBlobs(long root, ObjectNode tree, ObjectNode reply) {
    VineyardClient client = vineyard.get();
    List<Long> own = new ArrayList<>();
    for (BlobRef blob : MetaTree.blobs(tree).values()) {
      if (blob.instanceId() == client.instanceId()) {
        own.add(blob.id());
      }
    }
    try {
      scope.permitObject(client, root, tree);
      Map<Long, Long> mapped = own.isEmpty() ? Map.of() : scope.map(client, own);
      ObjectNode sizes = reply.putObject("sizes");
      mapped.forEach((id, size) -> sizes.put(ObjectIds.format(id), size));
    } catch (MigrateException e) {
      LOG.debug("not mapping the blobs of {} with its tree: {}", ObjectIds.format(root), e.getMessage());
    }
  }

  /** Serves one READ from this connection's mappings; one of a blob not mapped closes the connection. */
  void serve(ChannelHandlerContext ctx, ReadRequest read) {
    Blob blob = scope.mapped(read.blobId());
    if (blob == null || !Ranges.inside(read.offset(), read.length(), blob.size())) {
      ctx.writeAndFlush(AgentHandler.error(ErrorCode.INVALID, "READ of " + ObjectIds.format(read.blobId()) + " at "
          + read.offset() + " (+" + read.length() + "), which was not mapped")).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    ChunkWriter.Chunk chunk = new ChunkWriter.Chunk(read.blobId(), read.offset(), read.length(), blob.address() + read.offset());
    ChunkWriter writer = new ChunkWriter(List.of(chunk), pull::sent);
    if (compressor != null) {
      writer.compressing(compressor, Pipelines.resumer(ctx.channel()));
      compressing.add(writer);
      writer.finished().thenRun(() -> compressing.remove(writer));
    }
    ctx.write(writer).addListener(written -> {
      writer.finish();
      if (!written.isSuccess()) {
        ctx.fireExceptionCaught(written.cause());
      }
    });
  }

  /** Completes once no codec thread compresses from the mappings any more (then they may go). */
  CompletableFuture<Void> quiet() {
    return CompletableFuture.allOf(compressing.stream().map(ChunkWriter::finish).toArray(CompletableFuture[]::new));
  }

  static List<Long> ids(JsonNode request) {
    List<Long> ids = new ArrayList<>();
    request.path("ids").forEach(id -> ids.add(ObjectIds.parse(id.asText())));
    return ids;
  }
}
