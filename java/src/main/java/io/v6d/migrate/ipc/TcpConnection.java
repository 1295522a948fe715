package io.v6d.migrate.ipc;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/** vineyardd's RPC port: the same frames as the IPC socket, over TCP. */
public final class TcpConnection extends FramedConnection {
  private TcpConnection(String endpoint, SocketChannel channel) {
    super(endpoint, channel);
  }

  /** Connects to {@code host:port}. */
  public static TcpConnection open(String endpoint) {
    int colon = endpoint.lastIndexOf(':');
    if (colon <= 0) {
      throw new MigrateException(ErrorCode.INVALID, "not a vineyardd RPC endpoint (host:port): '" + endpoint + "'");
    }
    String host = endpoint.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(endpoint.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new MigrateException(ErrorCode.INVALID, "bad port in RPC endpoint '" + endpoint + "'");
    }
    try {
      SocketChannel channel = SocketChannel.open();
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      channel.socket().connect(new InetSocketAddress(host, port), 10_000);
      return new TcpConnection(endpoint, channel);
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to vineyardd's RPC port at " + endpoint + ": " + e.getMessage(), e);
    }
  }
}
