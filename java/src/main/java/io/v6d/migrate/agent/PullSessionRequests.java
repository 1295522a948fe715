package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelHandlerContext;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An agent-run rebalance's share on one connection: the peer orders this agent to pull chunks
 * into its vineyardd ("pull"), then persists, prepares, commits or aborts them ("pull_*").
 */
final class PullSessionRequests {
  static final Set<String> OPS = Set.of("pull", "pull_persist", "pull_prepare", "pull_commit", "pull_abort");

  private final AgentServer server;
  /** Set while the pull runs: the connection is quiet meanwhile, and must not time out. */
  private final AtomicBoolean waiting;
  /** This connection's pull session, or null. */
  private PullSession pullSession;

  PullSessionRequests(AgentServer server, AtomicBoolean waiting) {
    this.server = server;
    this.waiting = waiting;
  }

  /** The reply to {@code op} (one of {@link #OPS}), or null when it is answered later. */
  JsonNode handle(ChannelHandlerContext ctx, String op, JsonNode request, ObjectNode reply) {
    switch (op) {
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
   * Runs a pull session's order on a thread of the agent's (it may take long, and this connection's
   * thread must stay free to see the peer leave), then answers. The connection is quiet meanwhile:
   * the peer waits, and checks the agent on a connection of its own.
   */
  private void startPull(ChannelHandlerContext ctx, PullSession session, PullOrder order) {
    ReplyLater.run(ctx, server.pulls(), waiting, "pull", () -> session.pull(order), new ReplyLater.Cleanup() {
      @Override
      public void ended() {
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

  /** The connection closed: a session it carries learns that its peer left. */
  void closed() {
    if (pullSession != null) {
      pullSession.peerLeft();
    }
  }
}
