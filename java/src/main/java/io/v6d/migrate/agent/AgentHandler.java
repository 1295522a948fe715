package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.tcp.FrameDecoder;
import io.v6d.migrate.tcp.ReadRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
  private final SourceRequests source;
  /** Set while waiting for a stream's next chunk, which may take as long as its producer. */
  private final AtomicBoolean waitingForStream;
  private VineyardClient vineyard;
  /** A connection of its own for reading a stream: a pull waits inside vineyardd. */
  private VineyardClient streamReader;
  private PushSession owned;
  /** This connection's pull session (an agent-run rebalance's share for this target), or null. */
  private PullSession pullSession;
  private PushSession attached;
  /** The copies this connection's pusher is making, claimed while it pushes them. */
  private final PushClaims copyClaims = new PushClaims();

  AgentHandler(AgentServer server, FrameDecoder decoder, AtomicBoolean waitingForStream) {
    this.server = server;
    this.decoder = decoder;
    this.waitingForStream = waitingForStream;
    this.scope = new PeerScope(server.grants());
    this.source = new SourceRequests(scope, this::vineyard);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ReadRequest read) {
      source.serve(ctx, read);
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
    source.pull().request(request);
    ObjectNode reply = FrameCodec.mapper().createObjectNode();
    if (source.handle(op, request, reply)) {
      return reply;
    }
    switch (op) {
      case "info" -> reply.put("instance_id", vineyard().instanceId())
          .put("ipc_socket", vineyard().ipcSocket())
          .put("rpc_endpoint", vineyard().rpcEndpoint())
          .put("version", io.v6d.migrate.Migrate.version())
          .put("tls", server.tls());
      case "cluster" -> reply.set("cluster", vineyard().clusterMeta());
      case "exists" -> reply.put("exists", vineyard().exists(ObjectIds.parse(request.path("id").asText())));
      case "copies" -> {
        copyClaims.answer(ctx, vineyard(), request);
        return null; // answered once the copies not found are claimed (see PushClaims)
      }
      case "name" -> reply.put("id", ObjectIds.format(vineyard().getName(request.path("name").asText())));
      case "grant" -> reply.put("grant", scope.grantId());
      case "join" -> scope.join(request.path("grant").asText());
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
    source.pull().broken();
    MigrateException e = cause instanceof MigrateException m ? m : new MigrateException(ErrorCode.UNKNOWN, String.valueOf(cause));
    ctx.writeAndFlush(error(e.code(), e.getMessage())).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    source.pull().closed();
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
    source.quiet().whenComplete((ok, e) -> {
          scope.close();
          if (vineyard != null) {
            vineyard.close();
          }
          if (streamReader != null) {
            streamReader.close();
          }
        });
  }

  static ControlFrame error(ErrorCode code, String message) {
    return new ControlFrame(FrameType.ERROR, FrameCodec.mapper().createObjectNode()
        .put("code", code.value()).put("message", message == null ? "error" : message));
  }
}
