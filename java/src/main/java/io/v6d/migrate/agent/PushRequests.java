package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.tcp.FrameDecoder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The target side of one agent connection: a peer pushes an object into this agent's vineyardd
 * ("copies", "begin" or "attach", DATA, then "commit" or "abort"). A connection carries one push
 * session at a time; closing it aborts the session it owns.
 */
final class PushRequests {
  static final Set<String> OPS = Set.of("copies", "begin", "attach", "commit", "abort");

  private final AgentServer server;
  private final FrameDecoder decoder;
  private final Supplier<VineyardClient> vineyard;
  private PushSession owned;
  private PushSession attached;
  /** The copies this connection's pusher is making, claimed while it pushes them. */
  private final PushClaims copyClaims = new PushClaims();

  PushRequests(AgentServer server, FrameDecoder decoder, Supplier<VineyardClient> vineyard) {
    this.server = server;
    this.decoder = decoder;
    this.vineyard = vineyard;
  }

  /** The reply to {@code op} (one of {@link #OPS}), or null when it is answered later or was sent already. */
  JsonNode handle(ChannelHandlerContext ctx, String op, JsonNode request, ObjectNode reply) {
    switch (op) {
      case "copies" -> {
        copyClaims.answer(ctx, vineyard.get(), request);
        return null; // answered once the copies not found are claimed (see PushClaims)
      }
      case "begin" -> {
        if (owned != null || attached != null) {
          throw new MigrateException(ErrorCode.INVALID, "this connection already carries push session "
              + (owned != null ? owned : attached).id() + ": commit or abort it first");
        }
        Map<Long, Long> sizes = new LinkedHashMap<>();
        request.path("blobs").forEach(pair -> sizes.put(ObjectIds.parse(pair.get(0).asText()), pair.get(1).asLong()));
        Ranges.total(sizes.values(), ErrorCode.INVALID, () -> "the blobs of a push session"); // before any sum
        owned = server.sessions().begin(vineyard.get(), sizes);
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
      default -> throw new MigrateException(ErrorCode.INVALID, "unknown request '" + op + "'");
    }
    return reply;
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
      List<Long> created = PushCommit.commit(vineyard.get(), session, request, ids, sameCluster);
      created.forEach(id -> reply.withArray("object_ids").add(ObjectIds.format(id)));
    } else {
      CommitCheck.check(vineyard.get(), session, request.path("tree"), ids, sameCluster);
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

  /** The connection closed: its claims go, the session it owns is rolled back, one it joined fails. */
  void closed(ChannelHandlerContext ctx) {
    copyClaims.release();
    if (attached != null) {
      attached.fail("a connection of push session " + attached.id() + " closed");
    }
    if (owned != null) {
      owned.abort("the client's connection closed", ctx.channel());
      server.sessions().remove(owned);
    }
  }
}
