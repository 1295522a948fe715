package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channel;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * A blocking connection to vineyardd speaking its framed JSON protocol, over the IPC socket
 * ({@link UnixConnection}) or the RPC port ({@link TcpConnection}). Not thread-safe.
 *
 * <p>Every read and write has a deadline ({@link Timeouts}): vineyardd may be silent for at most
 * {@link #timeoutMillis()} while we wait for it, however long the whole exchange takes. A missed
 * deadline closes the connection (a late reply would be taken for the next one) and is a
 * CONNECTION_ERROR naming vineyardd and the request.
 */
public abstract class FramedConnection implements AutoCloseable {
  private final String peer;
  private final Channel channel;
  private final long timeoutMillis;
  private final FrameCodec codec = new FrameCodec();
  private final ByteBuffer header =
      ByteBuffer.allocateDirect(FrameCodec.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  /** The type of the request last sent, for messages. */
  private String request = "connect";
  /** Requests sent whose replies are read later, in order, before any other reply. */
  private final ArrayDeque<Deferred> deferred = new ArrayDeque<>();
  /** The first failed reply of a deferred request without a failure handler, until taken. */
  private MigrateException deferredFailure;

  private record Deferred(String requestType, String replyType, Consumer<JsonNode> onReply,
      Consumer<MigrateException> onFailure) {}

  protected FramedConnection(String peer, Channel channel, long timeoutMillis) {
    this.peer = peer;
    this.channel = channel;
    this.timeoutMillis = timeoutMillis;
  }

  /** The socket path or host:port of the vineyardd at the other end. */
  public String peer() {
    return peer;
  }

  /** Whether the connection is still open: a missed deadline or a lost peer closes it. */
  public boolean channelIsOpen() {
    return channel.isOpen();
  }

  /** How long vineyardd may stay silent while we wait for it. */
  public long timeoutMillis() {
    return timeoutMillis;
  }

  /**
   * Reads some bytes into {@code buffer}, waiting at most {@link #timeoutMillis()} for the first:
   * the count, -1 at the end of the stream, or 0 when the deadline passed with nothing to read.
   */
  protected abstract int readWithin(ByteBuffer buffer) throws IOException;

  /** Writes some bytes, waiting at most {@link #timeoutMillis()}; 0 when the deadline passed. */
  protected abstract int writeWithin(ByteBuffer buffer) throws IOException;

  /**
   * Sends a request and reads its reply. A reply carrying a non-zero vineyard status becomes a
   * {@link MigrateException} with that code; a reply of another type than expected is an error too.
   */
  public JsonNode call(JsonNode request, String expectedReplyType) {
    send(request);
    return checked(receive(), expectedReplyType, request.path("type").asText());
  }

  /**
   * The same for a request vineyardd answers only when something else happens (a stream's next
   * chunk): the wait is unbounded, but each time vineyardd has been silent for the timeout,
   * {@code stillThere} must show it still answers (it throws if not).
   */
  public JsonNode callWaiting(JsonNode request, String expectedReplyType, Runnable stillThere) {
    send(request);
    drainDeferred();
    header.clear();
    while (header.position() == 0) {
      try {
        if (readWithin(header) < 0) {
          throw closedByPeer();
        }
      } catch (IOException e) {
        throw lost("read from", e);
      }
      if (header.position() == 0) {
        if (!channel.isOpen()) {
          throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the connection to vineyardd at " + peer + " was closed");
        }
        stillThere.run();
      }
    }
    return checked(receiveRest(), expectedReplyType, request.path("type").asText());
  }

  /** The reply itself, or its error as a {@link MigrateException}. */
  public JsonNode checked(JsonNode reply, String expectedReplyType, String requestType) {
    int code = reply.path("code").asInt(0);
    if (code != 0) {
      throw new MigrateException(ErrorCode.of(code),
          reply.path("message").asText("vineyardd error " + code) + " (" + requestType + " on " + peer + ")");
    }
    String type = reply.path("type").asText();
    if (expectedReplyType != null && !expectedReplyType.equals(type)) {
      throw new MigrateException(ErrorCode.ASSERTION_FAILED,
          "vineyardd at " + peer + " replied '" + type + "' to '" + requestType + "'");
    }
    return reply;
  }

  /**
   * Sends a request whose reply nobody waits for now: vineyardd answers one connection's requests in
   * order, so the reply is read before the next one ({@link #receive}, {@link #drainDeferred}) and
   * its round trip overlaps the next request's. {@code onReply} gets a reply that succeeded; a failed
   * one goes to {@code onFailure}, or, when that is null, is kept for {@link #takeDeferredFailure}.
   */
  public void sendDeferred(JsonNode request, String replyType, Consumer<JsonNode> onReply,
      Consumer<MigrateException> onFailure) {
    // Bounded: vineyardd stops reading a connection whose replies it cannot write, so a sender that
    // never reads (10,000 seals and releases for a tuple of 10,000 blobs) would wait on it forever.
    readDeferredDownTo(Pipeline.WINDOW - 1);
    send(request);
    deferred.add(new Deferred(this.request, replyType, onReply, onFailure));
  }

  /** Reads the replies of every deferred request now (a lost connection still throws). */
  public void drainDeferred() {
    readDeferredDownTo(0);
  }

  /** Reads deferred replies, oldest first, until at most {@code left} are unread. */
  private void readDeferredDownTo(int left) {
    while (deferred.size() > left) {
      Deferred next = deferred.peek();
      header.clear();
      JsonNode reply = receiveRest();
      deferred.poll();
      try {
        next.onReply().accept(checked(reply, next.replyType(), next.requestType()));
      } catch (MigrateException e) {
        if (next.onFailure() != null) {
          next.onFailure().accept(e);
        } else if (deferredFailure == null) {
          deferredFailure = e;
        }
      }
    }
  }

  /** {@link #drainDeferred}, then throws the first failure kept ({@link #takeDeferredFailure}) if any. */
  public void completeDeferred() {
    drainDeferred();
    MigrateException failure = takeDeferredFailure();
    if (failure != null) {
      throw failure;
    }
  }

  /** The first failure of a deferred request read since the last call (see {@link #sendDeferred}), or null. */
  public MigrateException takeDeferredFailure() {
    MigrateException failure = deferredFailure;
    deferredFailure = null;
    return failure;
  }

  public void send(JsonNode request) {
    this.request = request.path("type").asText("request");
    RequestLog.sent(this.request);
    ByteBuffer frame = codec.encode(request);
    try {
      while (frame.hasRemaining()) {
        if (writeWithin(frame) == 0 && frame.hasRemaining()) {
          throw timedOut("sending");
        }
      }
    } catch (IOException e) {
      throw lost("write to", e);
    }
  }

  /** The next reply, after those of the requests deferred before it. */
  public JsonNode receive() {
    drainDeferred();
    header.clear();
    return receiveRest();
  }

  /** Reads the rest of a frame whose header may have begun to arrive. */
  private JsonNode receiveRest() {
    readFully(header);
    header.flip();
    ByteBuffer body = ByteBuffer.allocate(codec.bodyLength(header));
    readFully(body);
    body.flip();
    return codec.decode(body);
  }

  /** Reads exactly the buffer's remaining bytes: a frame, or raw payload that follows one. */
  public void readFully(ByteBuffer buffer) {
    try {
      while (buffer.hasRemaining()) {
        int n = readWithin(buffer);
        if (n < 0) {
          throw closedByPeer();
        }
        if (n == 0 && buffer.hasRemaining()) {
          throw timedOut("the reply to");
        }
      }
    } catch (IOException e) {
      throw lost("read from", e);
    }
  }

  /** Receives a file descriptor passed by vineyardd; only the IPC socket can. */
  public int receiveFd() {
    throw new MigrateException(ErrorCode.NOT_IMPLEMENTED, "file descriptors cannot be passed over " + peer);
  }

  protected MigrateException lost(String what, IOException e) {
    close();
    return new MigrateException(ErrorCode.CONNECTION_ERROR, "cannot " + what + " vineyardd at " + peer + ": " + e.getMessage(), e);
  }

  private MigrateException closedByPeer() {
    close();
    return new MigrateException(ErrorCode.CONNECTION_ERROR,
        "vineyardd at " + peer + " closed the connection (during '" + request + "')");
  }

  /** The deadline passed: the connection is out of step with vineyardd, so it is closed. */
  protected MigrateException timedOut(String what) {
    close();
    return new MigrateException(ErrorCode.CONNECTION_ERROR, "vineyardd at " + peer + " did not answer: no progress on "
        + what + " '" + request + "' for " + Timeouts.describe(timeoutMillis) + " (the timeout)");
  }

  /**
   * Whether the connection looks usable without a request: nothing says the peer closed it. A kind
   * of connection that cannot tell answers {@code null} (ask with a request instead).
   */
  public Boolean looksOpen() {
    return null;
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // closing a socket we no longer use: nothing to recover
    }
  }
}
