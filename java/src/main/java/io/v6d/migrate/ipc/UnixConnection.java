package io.v6d.migrate.ipc;

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
 * vineyardd's IPC socket. Besides frames it carries the store file descriptors that vineyardd
 * passes with SCM_RIGHTS after some replies. Frames are read to their exact length and no further:
 * the byte that carries a passed descriptor follows the reply, and an ordinary read of it would
 * drop the descriptor.
 */
public final class UnixConnection extends FramedConnection {
  private static final int SOL_SOCKET = 1;
  private static final int SCM_RIGHTS = 1;
  private static final POSIX POSIX_API = POSIXFactory.getNativePOSIX();

  private final UnixSocketChannel channel;

  private UnixConnection(String socketPath, UnixSocketChannel channel) {
    super(socketPath, channel);
    this.channel = channel;
  }

  public static UnixConnection open(String socketPath) {
    if (socketPath == null || socketPath.isEmpty()) {
      throw new MigrateException(ErrorCode.INVALID, "no IPC socket given");
    }
    if (!Files.exists(Path.of(socketPath))) {
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "no vineyardd IPC socket at '" + socketPath + "' (is vineyardd running?)");
    }
    try {
      return new UnixConnection(socketPath, UnixSocketChannel.open(new UnixSocketAddress(socketPath)));
    } catch (IOException e) {
      throw new MigrateException(
          ErrorCode.CONNECTION_FAILED, "cannot connect to vineyardd at '" + socketPath + "': " + e.getMessage(), e);
    }
  }

  /** Receives one file descriptor passed by vineyardd (one descriptor per message). */
  @Override
  public int receiveFd() {
    MsgHdr message = POSIX_API.allocateMsgHdr();
    message.setIov(new ByteBuffer[] {ByteBuffer.allocateDirect(1)});
    message.allocateControl(Integer.BYTES);
    int received = POSIX_API.recvmsg(channel.getFD(), message, 0);
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
