package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.ChannelHandlerContext;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.tcp.ControlFrame;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A request answered later: its work may wait long (a stream's producer, a whole pull), so it runs
 * on a thread of the agent's while the connection stays quiet ({@code waiting} keeps the idle
 * timeout off it). Whatever happens, the peer gets an answer -- the reply, or an error naming the
 * request -- so it never waits for its deadline on a reply that will not come.
 */
final class ReplyLater {
  private static final Logger LOG = LoggerFactory.getLogger(ReplyLater.class);

  /** What the work must undo when it fails, and what runs after the answer whatever happened. */
  interface Cleanup {
    /** The work failed unexpectedly (a bug, not a refusal): drop what it may have left half-done. */
    default void failedUnexpectedly() {}

    /** The answer (reply or error) is about to be written: the peer may send its next request soon after. */
    default void answering() {}

    /** The answer is written (reply or error). */
    default void ended() {}
  }

  private ReplyLater() {}

  static void run(ChannelHandlerContext ctx, Executor executor, AtomicBoolean waiting, String op,
      Supplier<JsonNode> work, Cleanup cleanup) {
    waiting.set(true);
    executor.execute(() -> {
      try {
        ControlFrame answer;
        try {
          answer = new ControlFrame(FrameType.REPLY, work.get());
        } catch (MigrateException e) {
          answer = AgentHandler.error(e.code(), e.getMessage());
        } catch (RuntimeException e) {
          LOG.warn("'{}' failed unexpectedly", op, e);
          answer = AgentHandler.error(ErrorCode.UNKNOWN, "'" + op + "' failed in the agent: " + e);
          try {
            cleanup.failedUnexpectedly();
          } catch (RuntimeException also) { // the peer is answered all the same
            LOG.warn("cleaning up after '{}' failed", op, also);
          }
        }
        cleanup.answering();
        ctx.writeAndFlush(answer);
      } finally {
        waiting.set(false);
        cleanup.ended();
      }
    });
  }
}
