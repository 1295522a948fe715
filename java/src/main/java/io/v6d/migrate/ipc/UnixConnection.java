package io.v6d.migrate.ipc;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import jnr.posix.CmsgHdr;
import jnr.posix.MsgHdr;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;

/**
 * vineyardd's IPC socket. Besides frames it carries the store file descriptors that vineyardd
 * passes with SCM_RIGHTS after some replies. Frames are read to their exact length and no further:
 * the byte that carries a passed descriptor follows the reply, and an ordinary read of it would
 * drop the descriptor.
 *
 * <p>The deadline is the kernel's: SO_RCVTIMEO and SO_SNDTIMEO bound each blocking read, write and
 * recvmsg, which then fail with EAGAIN (jnr's channel returns 0). No thread or selector is needed,
 * progress restarts the clock at every read, and the descriptor-passing recvmsg is bounded too.
 */
public final class UnixConnection extends FramedConnection {
  private static final int SOL_SOCKET = 1;
  private static final int SCM_RIGHTS = 1;
  /** recv(2) flags, as Linux numbers them: look without consuming, without blocking. */
  private static final int MSG_PEEK = 0x2;
  private static final int MSG_DONTWAIT = 0x40;
  private static final POSIX POSIX_API = POSIXFactory.getNativePOSIX();
  /** Bounds retries of interrupted calls, should the saved errno ever be stale. */
  private static final int MAX_INTERRUPTED_RETRIES = 1000;

  private final UnixSocketChannel channel;

  private UnixConnection(String socketPath, UnixSocketChannel channel, long timeoutMillis) {
    super(socketPath, channel, timeoutMillis);
    this.channel = channel;
  }

  /** Connects; vineyardd may then be silent for at most {@code timeoutMillis} at a time. */
  public static UnixConnection open(String socketPath, long timeoutMillis) {
    if (socketPath == null || socketPath.isEmpty()) {
      throw new MigrateException(ErrorCode.INVALID, "no IPC socket given");
    }
    if (!Files.exists(Path.of(socketPath))) {
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "no vineyardd IPC socket at '" + socketPath + "' (is vineyardd running?)");
    }
    UnixSocketChannel channel = null;
    try {
      channel = UnixSocketChannel.open();
      channel.setOption(UnixSocketOptions.SO_RCVTIMEO, Timeouts.asInt(timeoutMillis));
      channel.setOption(UnixSocketOptions.SO_SNDTIMEO, Timeouts.asInt(timeoutMillis));
      // set before connecting: a connect to a full accept queue waits at most SO_SNDTIMEO, then is "pending"
      if (!channel.connect(new UnixSocketAddress(socketPath))) {
        throw new MigrateException(ErrorCode.CONNECTION_ERROR, "vineyardd at " + socketPath
            + " did not accept the connection within " + Timeouts.describe(timeoutMillis) + " (the timeout)");
      }
      return new UnixConnection(socketPath, channel, timeoutMillis);
    } catch (IOException | MigrateException e) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // already failing
        }
      }
      if (e instanceof MigrateException m) {
        throw m;
      }
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "cannot connect to vineyardd at '" + socketPath + "': " + e.getMessage(), e);
    }
  }

  @Override
  protected int readWithin(ByteBuffer buffer) throws IOException {
    return unlessInterrupted(() -> channel.read(buffer)); // 0: SO_RCVTIMEO passed
  }

  @Override
  protected int writeWithin(ByteBuffer buffer) throws IOException {
    return unlessInterrupted(() -> channel.write(buffer)); // 0: SO_SNDTIMEO passed
  }

  private interface SocketCall {
    int run() throws IOException;
  }

  /**
   * With a timeout set, the kernel never restarts a socket call that a signal handler interrupted
   * (signal(7)): a signal meant for someone else in this process (Python's SIGINT or SIGCHLD
   * handlers) would otherwise fail the request. The call is made again; anything else is thrown.
   */
  private static int unlessInterrupted(SocketCall call) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try {
        return call.run();
      } catch (IOException e) {
        if (attempt >= MAX_INTERRUPTED_RETRIES || POSIX_API.errno() != Errno.EINTR.intValue()) {
          throw e;
        }
      }
    }
  }

  /**
   * A non-blocking peek, no request: an idle connection has nothing to read, so end of stream
   * (vineyardd closed it: restarted or stopped) or bytes nobody asked for both mean it is unusable.
   */
  @Override
  public Boolean looksOpen() {
    MsgHdr message = POSIX_API.allocateMsgHdr();
    message.setIov(new ByteBuffer[] {ByteBuffer.allocateDirect(1)});
    int peeked = POSIX_API.recvmsg(channel.getFD(), message, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0) {
      int errno = POSIX_API.errno();
      return errno == Errno.EAGAIN.intValue() || errno == Errno.EWOULDBLOCK.intValue() || errno == Errno.EINTR.intValue();
    }
    return false;
  }

  /** Receives one file descriptor passed by vineyardd (one descriptor per message). */
  @Override
  public int receiveFd() {
    MsgHdr message = POSIX_API.allocateMsgHdr();
    message.setIov(new ByteBuffer[] {ByteBuffer.allocateDirect(1)});
    message.allocateControl(Integer.BYTES);
    int received = POSIX_API.recvmsg(channel.getFD(), message, 0);
    for (int attempt = 0; received < 0 && POSIX_API.errno() == Errno.EINTR.intValue()
        && attempt < MAX_INTERRUPTED_RETRIES; attempt++) {
      received = POSIX_API.recvmsg(channel.getFD(), message, 0);
    }
    if (received < 0) {
      int errno = POSIX_API.errno();
      if (errno == Errno.EAGAIN.intValue() || errno == Errno.EWOULDBLOCK.intValue()) {
        throw timedOut("the file descriptor after");
      }
    }
    if (received <= 0) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "vineyardd at " + peer() + " did not pass the store's file descriptor");
    }
    int fd = -1;
    for (CmsgHdr control : message.getControls()) {
      if (control.getLevel() == SOL_SOCKET && control.getType() == SCM_RIGHTS) {
        fd = control.getData().order(ByteOrder.nativeOrder()).getInt(0);
      }
    }
    if (fd < 0) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "message from vineyardd at " + peer() + " carried no file descriptor");
    }
    return fd;
  }
}
