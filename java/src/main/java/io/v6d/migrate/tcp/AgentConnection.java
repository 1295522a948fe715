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
import io.netty.handler.ssl.SslHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.tls.TlsContexts;
import io.v6d.migrate.tls.TlsFiles;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One authenticated connection to an agent: JSON requests answered in order, READ requests, DATA
 * writes, and a sink for DATA frames that arrive. Any failure of the connection fails what waits
 * on it, {@link #failure()} included.
 *
 * <p>Deadlines ({@link Timeouts}): connecting, authenticating and each request's reply must come
 * within the timeout; while replies, requested DATA or our own DATA writes are outstanding, the
 * agent may not be silent for longer (traffic restarts the clock, so a long transfer that keeps
 * moving is fine). A connection with nothing outstanding may be idle as long as it likes.
 */
public final class AgentConnection implements AutoCloseable {
  private final AgentEndpoint endpoint;
  private final Channel channel;
  private final FrameDecoder decoder;
  private final Replies replies;
  private final long timeoutMillis;
  /** How our DATA writes are compressed, as negotiated (null: raw). */
  private ChunkCompressor compressor;
  private Compression compression = Compression.NONE;
  private final java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
  private static final java.util.concurrent.atomic.AtomicLong OPENED = new java.util.concurrent.atomic.AtomicLong();

  private AgentConnection(AgentEndpoint endpoint, Channel channel, FrameDecoder decoder, Replies replies,
      long timeoutMillis) {
    this.endpoint = endpoint;
    this.channel = channel;
    this.decoder = decoder;
    this.replies = replies;
    this.timeoutMillis = timeoutMillis;
  }

  /** Connects and authenticates with {@code token}, with the default timeout. */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token) {
    return open(endpoint, token, Timeouts.DEFAULT_MILLIS);
  }

  /** Connects and authenticates with {@code token}; the agent may be silent for at most {@code timeoutMillis}. */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token, long timeoutMillis) {
    return open(endpoint, token, timeoutMillis, TlsFiles.NONE);
  }

  /**
   * The same, over TLS when {@code tls} is enabled, with {@code compression} negotiated: the agent
   * compresses the DATA it sends us, and we the DATA we send it, as asked.
   */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token, long timeoutMillis, TlsFiles tls,
      Compression compression) {
    AgentConnection connection = open(endpoint, token, timeoutMillis, tls);
    if (compression != Compression.NONE) {
      try {
        ObjectNode args = FrameCodec.mapper().createObjectNode().put("compression", compression.label());
        connection.compression = Compression.parse(connection.call("compression", args).path("compression").asText());
        connection.compressor = new ChunkCompressor(connection.compression);
      } catch (RuntimeException e) {
        connection.close();
        throw e;
      }
    }
    return connection;
  }

  /** The same, over TLS when {@code tls} is enabled (the agent's certificate must name the endpoint's host). */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token, long timeoutMillis, TlsFiles tls) {
    CompletableFuture<Void> handshake = new CompletableFuture<>();
    FrameDecoder[] decoder = new FrameDecoder[1];
    Replies replies = new Replies(endpoint);
    Bootstrap bootstrap = new Bootstrap()
        .group(EventLoops.client())
        .channel(NioSocketChannel.class)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, Timeouts.asInt(timeoutMillis))
        .option(ChannelOption.TCP_NODELAY, true)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            SslHandler ssl = tls.enabled() ? TlsContexts.clientHandler(tls, ch.alloc(), endpoint.host(), endpoint.port()) : null;
            decoder[0] = Pipelines.install(ch, new IdleTimeout(timeoutMillis, replies::quiet, replies::awaited), ssl);
            ch.pipeline().addLast("handshake", new ClientHandshake(token, decoder[0], handshake, endpoint, tls.enabled()));
            ch.pipeline().addLast("replies", replies);
          }
        });
    ChannelFuture connect = bootstrap.connect(endpoint.host(), endpoint.port());
    if (!connect.awaitUninterruptibly(timeoutMillis + 1000) || !connect.isSuccess()) {
      connect.channel().close();
      Throwable cause = connect.cause();
      if (cause == null || cause instanceof io.netty.channel.ConnectTimeoutException) {
        throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the agent at " + endpoint
            + " did not accept the connection within " + Timeouts.describe(timeoutMillis) + " (the timeout)", cause);
      }
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to the agent at " + endpoint + (cause == null ? ": timed out" : ": " + cause.getMessage()), cause);
    }
    try {
      await(handshake, timeoutMillis, "authenticating with the agent at " + endpoint);
    } catch (RuntimeException e) {
      connect.channel().close().awaitUninterruptibly();
      throw e;
    }
    OPENED.incrementAndGet();
    return new AgentConnection(endpoint, connect.channel(), decoder[0], replies, timeoutMillis);
  }

  /** Connections opened and authenticated by this process so far (a warm pooled call opens none). */
  public static long opened() {
    return OPENED.get();
  }

  /** Not closed, and not failed: free to ask (no request). */
  public boolean isOpen() {
    return channel.isActive() && !replies.failure.isDone();
  }

  public AgentEndpoint endpoint() {
    return endpoint;
  }

  public long timeoutMillis() {
    return timeoutMillis;
  }

  /** The compression negotiated for this connection. */
  public Compression compression() {
    return compression;
  }

  /** Whether this connection speaks TLS. */
  public boolean tls() {
    return channel.pipeline().get(SslHandler.class) != null;
  }

  /** Bytes received from the agent so far (frames and all; TLS records' overhead not counted). */
  public long received() {
    return decoder.received();
  }

  /** DATA frame bytes we wrote to the agent (headers included, compressed where compressed). */
  public long sent() {
    return sent.get();
  }

  /**
   * Sends a request and waits for its reply, at most the timeout; an ERROR reply becomes a
   * MigrateException. A missed deadline closes the connection (a late reply would answer the next request).
   */
  public JsonNode call(String op, ObjectNode args) {
    CompletableFuture<JsonNode> reply = send(op, args, false);
    try {
      return await(reply, timeoutMillis, "'" + op + "' on the agent at " + endpoint);
    } catch (MigrateException e) {
      if (!reply.isDone()) {
        channel.close();
      }
      throw e;
    }
  }

  /**
   * The same for a request the agent answers only when something else happens (a stream's next
   * chunk): the wait is unbounded, but each time the agent has been silent for the timeout,
   * {@code stillThere} must show it still answers (it throws if not; the connection is then closed).
   */
  public JsonNode callWaiting(String op, ObjectNode args, Runnable stillThere) {
    CompletableFuture<JsonNode> reply = send(op, args, true);
    String what = "'" + op + "' on the agent at " + endpoint;
    try {
      while (!reply.isDone()) {
        try {
          reply.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          stillThere.run();
        } catch (ExecutionException e) {
          break; // reported below
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new MigrateException(ErrorCode.CONNECTION_ERROR, what + ": interrupted");
        }
      }
    } catch (RuntimeException e) {
      channel.close();
      throw e;
    } finally {
      replies.streamWait = false;
    }
    return await(reply, 0, what);
  }

  /** Sends a request without waiting: its reply (await it with {@link #await}) comes in order. */
  public CompletableFuture<JsonNode> send(String op, ObjectNode args) {
    return send(op, args, false);
  }

  private CompletableFuture<JsonNode> send(String op, ObjectNode args, boolean waitsLong) {
    ObjectNode request = args == null ? FrameCodec.mapper().createObjectNode() : args;
    request.put("op", op);
    CompletableFuture<JsonNode> reply = replies.expect(op);
    replies.streamWait = waitsLong;
    channel.writeAndFlush(new ControlFrame(FrameType.REQUEST, request));
    return reply;
  }

  /**
   * Routes DATA frames that arrive to {@code sink} (null: none may arrive; one that does fails the
   * connection); effective before this returns.
   */
  public void sink(DataSink sink) {
    if (sink == null) {
      channel.eventLoop().submit(() -> decoder.sink(null)).syncUninterruptibly();
      return;
    }
    DataSink counted = new DataSink() {
      @Override
      public long destination(long id, long offset, int length) {
        return sink.destination(id, offset, length);
      }

      @Override
      public void landed(long id, long offset, int length) {
        replies.dataExpected.decrementAndGet();
        sink.landed(id, offset, length);
      }
    };
    channel.eventLoop().submit(() -> decoder.sink(counted)).syncUninterruptibly();
  }

  /** Asks for DATA; until it has all come, the agent may not fall silent for longer than the timeout. */
  public void read(List<ReadRequest> requests) {
    replies.dataExpected.addAndGet(requests.size());
    for (ReadRequest request : requests) {
      channel.write(request);
    }
    channel.flush();
  }

  /** Writes DATA; until it is out, the agent must keep taking it (or the connection times out). */
  public ChannelFuture write(ChunkWriter chunks) {
    replies.writing.incrementAndGet();
    ChannelFuture written = channel.writeAndFlush(chunks.compressing(compressor));
    written.addListener(f -> {
      replies.writing.decrementAndGet();
      sent.addAndGet(chunks.wireBytes());
    });
    return written;
  }

  /** Completes exceptionally when the connection fails or closes; never completes normally. */
  public CompletableFuture<Void> failure() {
    return replies.failure;
  }

  /** Starts closing without waiting (callable on an event loop): nothing is being received. */
  public void abandon() {
    channel.close();
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
      throw new MigrateException(ErrorCode.CONNECTION_ERROR,
          what + ": no answer in " + Timeouts.describe(timeoutMillis) + " (the timeout)");
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
    /** DATA frames asked for and not yet landed; our DATA writes not yet out. */
    final AtomicInteger dataExpected = new AtomicInteger();
    final AtomicInteger writing = new AtomicInteger();
    private volatile String lastOp = "";

    Replies(AgentEndpoint endpoint) {
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
}
