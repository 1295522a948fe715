package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.protocol.FrameType;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** Matches replies to requests (in order) and turns connection failures into errors. */
final class AgentReplies extends SimpleChannelInboundHandler<ControlFrame> {
  private final AgentEndpoint endpoint;
  private final Queue<CompletableFuture<JsonNode>> pending = new ArrayDeque<>();
  final CompletableFuture<Void> failure = new CompletableFuture<>();
  /** DATA frames asked for and not yet landed; our DATA writes not yet out. */
  final AtomicInteger dataExpected = new AtomicInteger();
  final AtomicInteger writing = new AtomicInteger();
  private volatile String lastOp = "";

  AgentReplies(AgentEndpoint endpoint) {
    this.endpoint = endpoint;
  }

  /** A reply may take as long as a stream's producer: the connection is not idle meanwhile. */
  volatile boolean streamWait;

  /** Silence is fine: nothing is awaited, or only a reply that waits for a stream's producer. */
  boolean quiet() {
    boolean replyAwaited;
    synchronized (this) {
      replyAwaited = !pending.isEmpty();
    }
    return streamWait || !(replyAwaited || dataExpected.get() > 0 || writing.get() > 0);
  }

  /** What is awaited, for the message of a timeout. */
  String awaited() {
    String reply;
    synchronized (this) {
      reply = pending.isEmpty() ? null : "the reply to '" + lastOp + "'";
    }
    String what = reply != null ? reply
        : dataExpected.get() > 0 ? "DATA for " + dataExpected.get() + " READ request(s)"
        : "our DATA to be taken";
    return what + " from the agent at " + endpoint;
  }

  synchronized CompletableFuture<JsonNode> expect(String op) {
    CompletableFuture<JsonNode> reply = new CompletableFuture<>();
    lastOp = op;
    if (failure.isCompletedExceptionally()) {
      failure.whenComplete((ok, cause) -> reply.completeExceptionally(cause));
    } else {
      pending.add(reply);
    }
    return reply;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, ControlFrame frame) {
    CompletableFuture<JsonNode> reply;
    synchronized (this) {
      reply = pending.poll();
    }
    if (frame.type() == FrameType.REPLY && reply != null) {
      reply.complete(frame.body());
    } else if (frame.type() == FrameType.ERROR) {
      MigrateException error = new MigrateException(ErrorCode.of(frame.body().path("code").asInt(255)),
          frame.body().path("message").asText("the agent reported an error"));
      if (reply != null) {
        reply.completeExceptionally(error);
      } else {
        fail(error);
        ctx.close();
      }
    } else {
      fail(new MigrateException(ErrorCode.CONNECTION_ERROR, "unexpected " + frame.type() + " from the agent at " + endpoint));
      ctx.close();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    fail(cause instanceof MigrateException ? cause
        : new MigrateException(ErrorCode.CONNECTION_ERROR, "connection to the agent at " + endpoint + " failed: " + cause, cause));
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    fail(new MigrateException(ErrorCode.CONNECTION_ERROR, "the agent at " + endpoint + " closed the connection"));
  }

  private void fail(Throwable cause) {
    failure.completeExceptionally(cause);
    List<CompletableFuture<JsonNode>> waiting;
    synchronized (this) {
      waiting = List.copyOf(pending);
      pending.clear();
    }
    waiting.forEach(reply -> reply.completeExceptionally(cause));
  }
}
