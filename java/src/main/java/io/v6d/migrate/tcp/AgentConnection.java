package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.handler.ssl.SslHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.tls.TlsFiles;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

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
  private final AgentReplies replies;
  private final long timeoutMillis;
  /** How our DATA writes are compressed, as negotiated (null: raw). */
  private ChunkCompressor compressor;
  private Compression compression = Compression.NONE;
  private final AtomicLong sent = new AtomicLong();
  /** Our DATA writes until their chunks are out and no codec thread compresses from their blobs. */
  private final Set<ChunkWriter> writing = ConcurrentHashMap.newKeySet();
  private static final AtomicLong OPENED = new AtomicLong();

  private AgentConnection(AgentEndpoint endpoint, Channel channel, FrameDecoder decoder, AgentReplies replies,
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
        ObjectNode args = FrameCodec.mapper().createObjectNode().put("compression", compression.label())
            .put(ChunkCompressor.DECODES_SHUFFLED, true);
        JsonNode reply = connection.call("compression", args);
        connection.compression = Compression.parse(reply.path("compression").asText());
        connection.compressor = new ChunkCompressor(connection.compression,
            reply.path(ChunkCompressor.DECODES_SHUFFLED).asBoolean(false)); // an older agent does not say
      } catch (RuntimeException e) {
        connection.close();
        throw e;
      }
    }
    return connection;
  }

  /** The same, over TLS when {@code tls} is enabled (the agent's certificate must name the endpoint's host). */
  public static AgentConnection open(AgentEndpoint endpoint, byte[] token, long timeoutMillis, TlsFiles tls) {
    AgentDialer.Dialed dialed = AgentDialer.dial(endpoint, token, timeoutMillis, tls);
    OPENED.incrementAndGet();
    return new AgentConnection(endpoint, dialed.channel(), dialed.decoder(), dialed.replies(), timeoutMillis);
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
   * connection). Null is effective before this returns; a sink is installed without waiting, in
   * order before any {@link #read} asked after this (the event loop runs both in the order given),
   * so no DATA it answers can arrive before it.
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
    channel.eventLoop().execute(() -> decoder.sink(counted));
  }

  /**
   * Removes a sink that refuses DATA by itself once its pull is over ({@link LandingSink}):
   * nothing can land through it any more, so its removal is not waited for.
   */
  void dropFinishedSink() {
    channel.eventLoop().execute(() -> decoder.sink(null));
  }

  /** Asks for DATA; until it has all come, the agent may not fall silent for longer than the timeout. */
  public void read(List<ReadRequest> requests) {
    replies.dataExpected.addAndGet(requests.size());
    for (ReadRequest request : requests) {
      channel.write(request);
    }
    channel.flush();
  }

  /**
   * Writes DATA; until it is out, the agent must keep taking it (or the connection times out). The
   * future completes once the chunks are out and no codec thread reads their blobs any more.
   */
  public ChannelFuture write(ChunkWriter chunks) {
    replies.writing.incrementAndGet();
    writing.add(chunks);
    ChannelPromise done = channel.newPromise();
    channel.writeAndFlush(chunks.compressing(compressor, Pipelines.resumer(channel))).addListener(written -> {
      replies.writing.decrementAndGet();
      sent.addAndGet(chunks.wireBytes());
      chunks.finish().whenComplete((ok, e) -> {
        writing.remove(chunks);
        if (written.isSuccess()) {
          done.trySuccess();
        } else {
          done.tryFailure(written.cause());
        }
      });
    });
    return done;
  }

  /** Completes exceptionally when the connection fails or closes; never completes normally. */
  public CompletableFuture<Void> failure() {
    return replies.failure;
  }

  /** Starts closing without waiting (callable on an event loop): nothing is being received. */
  public void abandon() {
    channel.close();
  }

  /** Closes and waits until no more DATA can land through this connection, nor be read for it. */
  @Override
  public void close() {
    channel.close().awaitUninterruptibly();
    writing.forEach(chunks -> chunks.finish().join()); // a codec thread may be reading a blob still
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
}
