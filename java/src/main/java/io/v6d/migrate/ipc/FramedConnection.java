package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ByteChannel;

/**
 * A blocking connection to vineyardd speaking its framed JSON protocol, over the IPC socket
 * ({@link UnixConnection}) or the RPC port ({@link TcpConnection}). Not thread-safe.
 */
public abstract class FramedConnection implements AutoCloseable {
  private final String peer;
  private final ByteChannel channel;
  private final FrameCodec codec = new FrameCodec();
  private final ByteBuffer header =
      ByteBuffer.allocateDirect(FrameCodec.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

  protected FramedConnection(String peer, ByteChannel channel) {
    this.peer = peer;
    this.channel = channel;
  }

  /** The socket path or host:port of the vineyardd at the other end. */
  public String peer() {
    return peer;
  }

  /**
   * Sends a request and reads its reply. A reply carrying a non-zero vineyard status becomes a
   * {@link MigrateException} with that code; a reply of another type than expected is an error too.
   */
  public JsonNode call(JsonNode request, String expectedReplyType) {
    send(request);
    return checked(receive(), expectedReplyType, request.path("type").asText());
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

  public void send(JsonNode request) {
    ByteBuffer frame = codec.encode(request);
    try {
      while (frame.hasRemaining()) {
        channel.write(frame);
      }
    } catch (IOException e) {
      throw lost("write to", e);
    }
  }

  public JsonNode receive() {
    header.clear();
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
        if (channel.read(buffer) < 0) {
          throw new MigrateException(ErrorCode.CONNECTION_ERROR, "vineyardd at " + peer + " closed the connection");
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
    return new MigrateException(ErrorCode.CONNECTION_ERROR, "cannot " + what + " vineyardd at " + peer + ": " + e.getMessage(), e);
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
