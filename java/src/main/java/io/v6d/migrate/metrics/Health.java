package io.v6d.migrate.metrics;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** Probes for {@code /healthz}. */
public final class Health {
  private Health() {}

  /** Whether vineyardd accepts connections on its IPC socket (connects and closes, sends nothing). */
  public static boolean accepts(String ipcSocket) {
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      return channel.connect(UnixDomainSocketAddress.of(Path.of(ipcSocket)));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
