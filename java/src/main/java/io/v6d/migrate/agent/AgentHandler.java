package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.metrics.PullMetrics;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.tcp.ChunkWriter;
import io.v6d.migrate.tcp.Pipelines;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.tcp.FrameDecoder;
import io.v6d.migrate.tcp.ReadRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One authenticated peer of the agent. Runs on a blocking executor of its own (never on an event
 * loop), since it talks to vineyardd over IPC: requests are answered in order, READs are served
 * from this connection's mapping of the source blobs, and pushed DATA lands in a push session.
 * What a peer may map and READ is its {@link PeerScope}'s to say; what it may commit, {@link CommitCheck}'s.
 */
final class AgentHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(AgentHandler.class);

  private final AgentServer server;
  private final FrameDecoder decoder;
  private final PeerScope scope;
  private final PullMetrics pull = new PullMetrics();
  /** Set while waiting for a stream's next chunk, which may take as long as its producer. */
  private final AtomicBoolean waitingForStream;
  private VineyardClient vineyard;
  /** How DATA this agent sends on this connection is compressed, as the peer asked ("compression"). */
  private volatile io.v6d.migrate.compress.ChunkCompressor compressor;
  /** Our DATA writes whose chunks a codec thread may still be compressing from the mappings. */
  private final Set<ChunkWriter> compressing = ConcurrentHashMap.newKeySet();
  /** A connection of its own for reading a stream: a pull waits inside vineyardd. */
  private VineyardClient streamReader;
  private PushSession owned;
  /** This connection's pull session (an agent-run rebalance's share for this target), or null. */
  private PullSession pullSession;
  /** The tree this connection's last "meta" read, which its "map" of that object need not read again. */
  private long lastTreeId;
  private JsonNode lastTree;
  /** The trees this connection's last "metas" read (a batch's "map" that follows permits from them). */
  private Map<Long, JsonNode> lastTrees = Map.of();
  private PushSession attached;
  /** The copies this connection's pusher is making, claimed while it pushes them. */
  private final PushClaims copyClaims = new PushClaims();

  AgentHandler(AgentServer server, FrameDecoder decoder, AtomicBoolean waitingForStream) {
    this.server = server;
    this.decoder = decoder;
    this.waitingForStream = waitingForStream;
    this.scope = new PeerScope(server.grants());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ReadRequest read) {
      serve(ctx, read);
    } else if (msg instanceof ControlFrame frame && frame.type() == FrameType.REQUEST) {
      try {
        JsonNode reply = handle(ctx, frame.body());
        if (reply != null) {
          ctx.writeAndFlush(new ControlFrame(FrameType.REPLY, reply));
        }
      } catch (MigrateException e) {
        LOG.debug("{} failed: {}", frame.body().path("op").asText(), e.getMessage());
        ctx.writeAndFlush(error(e.code(), e.getMessage()));
      }
    } else {
      ctx.writeAndFlush(error(ErrorCode.INVALID, "unexpected frame")).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private JsonNode handle(ChannelHandlerContext ctx, JsonNode request) {
    String op = request.path("op").asText();
    pull.request(request);
    ObjectNode reply = FrameCodec.mapper().createObjectNode();
    switch (op) {
      case "info" -> reply.put("instance_id", vineyard().instanceId())
          .put("ipc_socket", vineyard().ipcSocket())
          .put("rpc_endpoint", vineyard().rpcEndpoint())
          .put("version", io.v6d.migrate.Migrate.version())
          .put("tls", server.tls());
      case "compression" -> {
        io.v6d.migrate.compress.Compression asked =
            io.v6d.migrate.compress.Compression.parse(request.path("compression").asText("none"));
        compressor = asked == io.v6d.migrate.compress.Compression.NONE ? null
            : new io.v6d.migrate.compress.ChunkCompressor(asked,
                request.path(io.v6d.migrate.compress.ChunkCompressor.DECODES_SHUFFLED).asBoolean(false));
        reply.put("compression", asked.label()).put(io.v6d.migrate.compress.ChunkCompressor.DECODES_SHUFFLED, true);
      }
      case "cluster" -> reply.set("cluster", vineyard().clusterMeta());
      case "exists" -> reply.put("exists", vineyard().exists(ObjectIds.parse(request.path("id").asText())));
      case "meta" -> {
        long id = ObjectIds.parse(request.path("id").asText());
        ObjectNode tree = vineyard().getData(id, request.path("sync_remote").asBoolean());
        lastTreeId = id;
        lastTree = tree;
        reply.set("tree", tree);
      }
      case "metas" -> {
        ObjectNode trees = reply.putObject("trees");
        lastTrees = vineyard().getDatas(ids(request), request.path("sync_remote").asBoolean());
        lastTrees.forEach((id, tree) -> trees.set(ObjectIds.format(id), tree));
      }
      case "copies" -> {
        copyClaims.answer(ctx, vineyard(), request);
        return null; // answered once the copies not found are claimed (see PushClaims)
      }
      case "name" -> reply.put("id", ObjectIds.format(vineyard().getName(request.path("name").asText())));
      case "grant" -> reply.put("grant", scope.grantId());
      case "join" -> scope.join(request.path("grant").asText());
      case "map" -> {
        if (request.hasNonNull("object")) {
          long root = ObjectIds.parse(request.path("object").asText());
          scope.permitObject(vineyard(), root, root == lastTreeId ? lastTree : null);
        }
        if (request.has("objects")) { // a batch names all its objects in one request
          List<Long> roots = new ArrayList<>();
          request.path("objects").forEach(id -> roots.add(ObjectIds.parse(id.asText())));
          scope.permitObjects(vineyard(), roots, lastTrees);
        }
        ObjectNode sizes = reply.putObject("sizes");
        scope.map(vineyard(), ids(request)).forEach((id, size) -> sizes.put(ObjectIds.format(id), size));
      }
      case "unmap" -> {
        scope.unmap(vineyard(), ids(request));
        if (request.path("forget").asBoolean(false)) {
          scope.forgetObjects(); // a pooled client's migration ended: its grant must not grow without bound
          lastTrees = Map.of();
          pull.ended();
        }
      }
      case "stream_open" -> {
        if (streamReader == null) {
          streamReader = server.connectVineyard();
        }
        long stream = ObjectIds.parse(request.path("id").asText());
        streamReader.streams().open(stream, false);
        scope.streamOpened(stream);
      }
      case "stream_next" -> {
        long stream = ObjectIds.parse(request.path("id").asText());
        scope.requireStream(stream);
        if (streamReader == null) {
          throw new MigrateException(ErrorCode.INVALID, "no stream opened on this connection");
        }
        awaitChunk(ctx, streamReader, stream);
        return null; // answered when the producer gives a chunk
      }
      case "begin" -> {
        if (owned != null || attached != null) {
          throw new MigrateException(ErrorCode.INVALID, "this connection already carries push session "
              + (owned != null ? owned : attached).id() + ": commit or abort it first");
        }
        Map<Long, Long> sizes = new LinkedHashMap<>();
        request.path("blobs").forEach(pair -> sizes.put(ObjectIds.parse(pair.get(0).asText()), pair.get(1).asLong()));
        Ranges.total(sizes.values(), ErrorCode.INVALID, () -> "the blobs of a push session"); // before any sum
        owned = server.sessions().begin(vineyard(), sizes);
        join(ctx, owned);
        return PushSession.describe(owned);
      }
      case "attach" -> {
        if (owned != null || attached != null) {
          throw new MigrateException(ErrorCode.INVALID, "this connection already carries a push session");
        }
        attached = server.sessions().get(request.path("session").asText());
        join(ctx, attached);
      }
      case "commit" -> {
        try {
          return commit(ctx, request, reply);
        } finally {
          copyClaims.release(); // the copies are recorded (or rolled back): other migrations of them go on
        }
      }
      case "abort" -> {
        copyClaims.release();
        PushSession session = ownedSession(request);
        session.abort("aborted by the client", ctx.channel());
        server.sessions().remove(session);
        owned = null;
      }
      case "pull" -> {
        if (pullSession != null && !pullSession.over()) { // a failed pull is over: rolled back already
          throw new MigrateException(ErrorCode.INVALID, "this connection already carries pull session "
              + pullSession.id() + ": commit or abort it first");
        }
        PullOrder order = PullOrder.parse(request);
        pullSession = new PullSession(server);
        startPull(ctx, pullSession, order);
        return null; // answered when every chunk is pulled (or the pull failed and was rolled back)
      }
      case "pull_persist" -> pullSession(request).persist();
      // the global object that will link the copies: decides the session if the peer leaves uncommitted
      case "pull_prepare" -> pullSession(request).prepare(PreparedGlobal.parse(request));
      case "pull_commit" -> {
        pullSession(request).commit();
        pullSession = null;
      }
      case "pull_abort" -> {
        // "session" may be empty: a peer aborts a pull still running, whose id it has not seen yet
        PullSession session = request.path("session").asText("").isEmpty() && pullSession != null ? pullSession
            : pullSession(request);
        session.abort("aborted by the peer");
        session.awaitEnded(); // the pull's own reply (an error: rolled back) goes first
        pullSession = null;
      }
      default -> throw new MigrateException(ErrorCode.INVALID, "unknown request '" + op + "'");
    }
    return reply;
  }

  /**
   * Waits for a stream's next chunk on a thread of its own (it may take as long as the producer),
   * then answers; the client sends nothing else on a stream connection meanwhile.
   */
  private void awaitChunk(ChannelHandlerContext ctx, VineyardClient reader, long streamId) {
    waitingForStream.set(true);
    server.streamWaits().execute(() -> {
      try {
        long chunk = reader.streams().pullNext(streamId);
        scope.chunkDelivered(chunk);
        ctx.writeAndFlush(new ControlFrame(FrameType.REPLY,
            FrameCodec.mapper().createObjectNode().put("chunk", ObjectIds.format(chunk))));
      } catch (MigrateException e) {
        ctx.writeAndFlush(error(e.code(), e.getMessage()));
      } finally {
        waitingForStream.set(false);
      }
    });
  }

  /**
   * Runs a pull session's order on a thread of the agent's (it may take long, and this connection's
   * thread must stay free to see the peer leave), then answers. The connection is quiet meanwhile:
   * the peer waits, and checks the agent on a connection of its own.
   */
  private void startPull(ChannelHandlerContext ctx, PullSession session, PullOrder order) {
    waitingForStream.set(true);
    server.pulls().execute(() -> {
      try {
        ctx.writeAndFlush(new ControlFrame(FrameType.REPLY, session.pull(order)));
      } catch (MigrateException e) {
        ctx.writeAndFlush(error(e.code(), e.getMessage()));
      } catch (RuntimeException e) {
        ctx.writeAndFlush(error(ErrorCode.UNKNOWN, String.valueOf(e)));
      } finally {
        waitingForStream.set(false);
        session.ended();
      }
    });
  }

  private PullSession pullSession(JsonNode request) {
    if (pullSession == null || !pullSession.id().equals(request.path("session").asText())) {
      throw new MigrateException(ErrorCode.INVALID, "no pull session '" + request.path("session").asText()
          + "' on this connection");
    }
    return pullSession;
  }

  /** DATA frames on this connection land in {@code session} from now on. */
  private void join(ChannelHandlerContext ctx, PushSession session) {
    session.attach(ctx.channel());
    ctx.channel().eventLoop().submit(() -> decoder.sink(session)).syncUninterruptibly();
  }

  private PushSession ownedSession(JsonNode request) {
    if (owned == null || !owned.id().equals(request.path("session").asText())) {
      throw new MigrateException(ErrorCode.INVALID, "no push session '" + request.path("session").asText() + "' on this connection");
    }
    return owned;
  }

  private void serve(ChannelHandlerContext ctx, ReadRequest read) {
    Blob blob = scope.mapped(read.blobId());
    if (blob == null || !Ranges.inside(read.offset(), read.length(), blob.size())) {
      ctx.writeAndFlush(error(ErrorCode.INVALID, "READ of " + ObjectIds.format(read.blobId()) + " at " + read.offset()
          + " (+" + read.length() + "), which was not mapped")).addListener(ChannelFutureListener.CLOSE);
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

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    ctx.flush();
  }

  /** Commits this connection's push session; the reply, or null when sent already. */
  private JsonNode commit(ChannelHandlerContext ctx, JsonNode request, ObjectNode reply) {
    PushSession session = ownedSession(request);
    if (!ctx.channel().isActive()) {
      // the client gave up (its timeout passed while this agent was stopped or slow): the
      // session is rolled back when the connection's close is handled, instead of committed
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the client closed the connection before its commit was read");
    }
    Map<Long, Long> ids = new LinkedHashMap<>();
    request.path("blobs").fields().forEachRemaining(e ->
        ids.put(ObjectIds.parse(e.getKey()), ObjectIds.parse(e.getValue().asText())));
    boolean sameCluster = request.path("same_cluster").asBoolean();
    if (request.has("objects")) {
      List<Long> created = PushCommit.commit(vineyard(), session, request, ids, sameCluster);
      created.forEach(id -> reply.withArray("object_ids").add(ObjectIds.format(id)));
    } else {
      CommitCheck.check(vineyard(), session, request.path("tree"), ids, sameCluster);
      String name = request.hasNonNull("name") ? request.path("name").asText() : null;
      long id = session.commit((ObjectNode) request.path("tree"), ids,
          request.path("persist").asBoolean(true), name, request.path("overwrite_name").asBoolean(false),
          sameCluster);
      reply.put("object_id", ObjectIds.format(id));
    }
    server.sessions().remove(session);
    owned = null;
    if (!session.pinsNothing()) {
      // our vineyardd connection still holds the new blobs: end it (and this connection, which a
      // client may keep between migrations) so that deleting the object frees them
      ctx.writeAndFlush(new ControlFrame(FrameType.REPLY, reply)).addListener(ChannelFutureListener.CLOSE);
      return null;
    }
    return reply;
  }

  private VineyardClient vineyard() {
    if (vineyard == null) {
      vineyard = server.connectVineyard();
    }
    return vineyard;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.info("closing {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
    pull.broken();
    MigrateException e = cause instanceof MigrateException m ? m : new MigrateException(ErrorCode.UNKNOWN, String.valueOf(cause));
    ctx.writeAndFlush(error(e.code(), e.getMessage())).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    pull.closed();
    copyClaims.release();
    if (attached != null) {
      attached.fail("a connection of push session " + attached.id() + " closed");
    }
    if (owned != null) {
      owned.abort("the client's connection closed", ctx.channel());
      server.sessions().remove(owned);
    }
    if (pullSession != null) {
      pullSession.peerLeft();
    }
    // the mappings go only once no codec thread compresses from them
    CompletableFuture.allOf(compressing.stream().map(ChunkWriter::finish).toArray(CompletableFuture[]::new))
        .whenComplete((ok, e) -> {
          scope.close();
          if (vineyard != null) {
            vineyard.close();
          }
          if (streamReader != null) {
            streamReader.close();
          }
        });
  }

  private static List<Long> ids(JsonNode request) {
    List<Long> ids = new ArrayList<>();
    request.path("ids").forEach(id -> ids.add(ObjectIds.parse(id.asText())));
    return ids;
  }

  static ControlFrame error(ErrorCode code, String message) {
    return new ControlFrame(FrameType.ERROR, FrameCodec.mapper().createObjectNode()
        .put("code", code.value()).put("message", message == null ? "error" : message));
  }
}
