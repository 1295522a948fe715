package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameType;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One authenticated connection to an agent: JSON requests answered in order, READ requests, DATA
 * writes, and a sink for DATA frames that arrive. Any failure of the connection fails what waits
 * on it, {@link #failure()} included.
 */
public final class AgentConnection implements AutoCloseable {
  public static final int IDLE_TIMEOUT_SECONDS = 60;
  private static final long CONNECT_TIMEOUT_MILLIS = 10_000;

  private final AgentEndpoint endpoint;
  private final Channel channel;
  private final FrameDecoder decoder;
  private final Replies replies;

  private AgentConnection(AgentEndpoint endpoint, Channel channel, FrameDecoder decoder, Replies replies) {
    this.endpoint = endpoint;
    this.channel = channel;
    this.decoder = decoder;
    this.replies = replies;
  }

  /** Connects and authenticates with {@code token}. */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token) {
    CompletableFuture<Void> handshake = new CompletableFuture<>();
    FrameDecoder[] decoder = new FrameDecoder[1];
    Replies replies = new Replies(endpoint);
    Bootstrap bootstrap = new Bootstrap()
        .group(EventLoops.client())
        .channel(NioSocketChannel.class)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT_MILLIS)
        .option(ChannelOption.TCP_NODELAY, true)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            decoder[0] = Pipelines.install(ch, IDLE_TIMEOUT_SECONDS, replies::waitingForStream);
            ch.pipeline().addLast("handshake", new ClientHandshake(token, decoder[0], handshake));
            ch.pipeline().addLast("replies", replies);
          }
        });
    ChannelFuture connect = bootstrap.connect(endpoint.host(), endpoint.port());
    if (!connect.awaitUninterruptibly(CONNECT_TIMEOUT_MILLIS + 1000) || !connect.isSuccess()) {
      connect.channel().close();
      Throwable cause = connect.cause();
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to the agent at " + endpoint + (cause == null ? ": timed out" : ": " + cause.getMessage()), cause);
    }
    try {
      await(handshake, CONNECT_TIMEOUT_MILLIS, "authenticating with the agent at " + endpoint);
    } catch (RuntimeException e) {
      connect.channel().close().awaitUninterruptibly();
      throw e;
    }
    return new AgentConnection(endpoint, connect.channel(), decoder[0], replies);
  }

  public AgentEndpoint endpoint() {
    return endpoint;
  }

  /** Sends a request and waits for its reply; an ERROR reply becomes a MigrateException. */
  public JsonNode call(String op, ObjectNode args, long timeoutMillis) {
    ObjectNode request = args == null ? FrameCodec.mapper().createObjectNode() : args;
    request.put("op", op);
    CompletableFuture<JsonNode> reply = replies.expect();
    replies.streamWait = op.equals("stream_next");
    try {
      channel.writeAndFlush(new ControlFrame(FrameType.REQUEST, request));
      return await(reply, timeoutMillis, "'" + op + "' on the agent at " + endpoint);
    } finally {
      replies.streamWait = false;
    }
  }

  /** Routes DATA frames that arrive to {@code sink}; effective before this returns. */
  public void sink(DataSink sink) {
    channel.eventLoop().submit(() -> decoder.sink(sink)).syncUninterruptibly();
  }

  public void read(List<ReadRequest> requests) {
    for (ReadRequest request : requests) {
      channel.write(request);
    }
    channel.flush();
  }

  public ChannelFuture write(ChunkWriter chunks) {
    return channel.writeAndFlush(chunks);
  }

  /** Completes exceptionally when the connection fails or closes; never completes normally. */
  public CompletableFuture<Void> failure() {
    return replies.failure;
  }

  /** Closes and waits until no more DATA can land through this connection. */
  @Override
  public void close() {
    channel.close().awaitUninterruptibly();
  }

  public static <T> T await(CompletableFuture<T> future, long timeoutMillis, String what) {
    try {
      return future.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof MigrateException m) {
        throw new MigrateException(m.code(), m.getMessage(), m);
      }
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, what + " failed: " + cause, cause);
    } catch (TimeoutException e) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, what + ": no answer in " + timeoutMillis + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, what + ": interrupted");
    }
  }

  /** Matches replies to requests (in order) and turns connection failures into errors. */
  private static final class Replies extends SimpleChannelInboundHandler<ControlFrame> {
    private final AgentEndpoint endpoint;
    private final Queue<CompletableFuture<JsonNode>> pending = new ArrayDeque<>();
    private final CompletableFuture<Void> failure = new CompletableFuture<>();

    Replies(AgentEndpoint endpoint) {
      this.endpoint = endpoint;
    }

    /** A reply may take as long as a stream's producer: the connection is not idle meanwhile. */
    volatile boolean streamWait;

    boolean waitingForStream() {
      return streamWait;
    }

    synchronized CompletableFuture<JsonNode> expect() {
      CompletableFuture<JsonNode> reply = new CompletableFuture<>();
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
}
