package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.posix.CmsgHdr;
import jnr.posix.MsgHdr;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * A blocking connection to vineyardd's IPC socket: request/reply frames, plus the store file
 * descriptors that vineyardd passes with SCM_RIGHTS after some replies.
 *
 * <p>Frames are read to their exact length and no further: the byte that carries a passed
 * descriptor follows the reply on the stream, and an ordinary read of it would drop the descriptor.
 * Not thread-safe; one caller at a time.
 */
public final class IpcConnection implements AutoCloseable {
  private static final int SOL_SOCKET = 1;
  private static final int SCM_RIGHTS = 1;
  private static final POSIX POSIX_API = POSIXFactory.getNativePOSIX();

  private final String socketPath;
  private final UnixSocketChannel channel;
  private final FrameCodec codec = new FrameCodec();
  private final ByteBuffer header =
      ByteBuffer.allocateDirect(FrameCodec.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

  private IpcConnection(String socketPath, UnixSocketChannel channel) {
    this.socketPath = socketPath;
    this.channel = channel;
  }

  public static IpcConnection open(String socketPath) {
    if (socketPath == null || socketPath.isEmpty()) {
      throw new MigrateException(ErrorCode.INVALID, "no IPC socket given");
    }
    if (!Files.exists(Path.of(socketPath))) {
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "no vineyardd IPC socket at '" + socketPath + "' (is vineyardd running?)");
    }
    try {
      UnixSocketChannel channel = UnixSocketChannel.open(new UnixSocketAddress(socketPath));
      return new IpcConnection(socketPath, channel);
    } catch (IOException e) {
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "cannot connect to vineyardd at '" + socketPath + "': " + e.getMessage(), e);
    }
  }

  public String socketPath() {
    return socketPath;
  }

  /**
   * Sends a request and reads its reply. A reply carrying a non-zero vineyard status becomes a
   * {@link MigrateException} with that code; a reply of another type than expected is an error too.
   */
  public JsonNode call(JsonNode request, String expectedReplyType) {
    send(request);
    JsonNode reply = receive();
    int code = reply.path("code").asInt(0);
    if (code != 0) {
      throw new MigrateException(
          ErrorCode.of(code),
          reply.path("message").asText("vineyardd error " + code)
              + " (" + request.path("type").asText() + " on " + socketPath + ")");
    }
    String type = reply.path("type").asText();
    if (expectedReplyType != null && !expectedReplyType.equals(type)) {
      throw new MigrateException(
          ErrorCode.ASSERTION_FAILED,
          "vineyardd at " + socketPath + " replied '" + type + "' to '" + request.path("type").asText() + "'");
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
      throw lost("write", e);
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

  /** Receives one file descriptor passed by vineyardd (one descriptor per message). */
  public int receiveFd() {
    MsgHdr message = POSIX_API.allocateMsgHdr();
    message.setIov(new ByteBuffer[] {ByteBuffer.allocateDirect(1)});
    message.allocateControl(Integer.BYTES);
    int received = POSIX_API.recvmsg(channel.getFD(), message, 0);
    if (received <= 0) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "vineyardd at " + socketPath + " did not pass the store's file descriptor");
    }
    int fd = -1;
    for (CmsgHdr control : message.getControls()) {
      if (control.getLevel() == SOL_SOCKET && control.getType() == SCM_RIGHTS) {
        fd = control.getData().order(ByteOrder.nativeOrder()).getInt(0);
      }
    }
    if (fd < 0) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "message from vineyardd at " + socketPath + " carried no file descriptor");
    }
    return fd;
  }

  private void readFully(ByteBuffer buffer) {
    try {
      while (buffer.hasRemaining()) {
        if (channel.read(buffer) < 0) {
          throw new MigrateException(
              ErrorCode.CONNECTION_ERROR, "vineyardd at " + socketPath + " closed the connection");
        }
      }
    } catch (IOException e) {
      throw lost("read", e);
    }
  }

  private MigrateException lost(String what, IOException e) {
    return new MigrateException(
        ErrorCode.CONNECTION_ERROR, "cannot " + what + " vineyardd socket " + socketPath + ": " + e.getMessage(), e);
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
