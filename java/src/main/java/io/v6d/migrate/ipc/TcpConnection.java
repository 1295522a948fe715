package io.v6d.migrate.ipc;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/**
 * vineyardd's RPC port: the same frames as the IPC socket, over TCP. The channel is non-blocking
 * and waits in a selector of its own, which is what puts a deadline on each read and write.
 */
public final class TcpConnection extends FramedConnection {
  private final SocketChannel channel;
  private final Selector selector;
  private final SelectionKey key;

  private TcpConnection(String endpoint, SocketChannel channel, Selector selector, long timeoutMillis)
      throws IOException {
    super(endpoint, channel, timeoutMillis);
    this.channel = channel;
    this.selector = selector;
    this.key = channel.register(selector, 0);
  }

  /** Connects to {@code host:port}; it may then be silent for at most {@code timeoutMillis} at a time. */
  public static TcpConnection open(String endpoint, long timeoutMillis) {
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
    SocketChannel channel = null;
    Selector selector = null;
    try {
      channel = SocketChannel.open();
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      channel.socket().connect(new InetSocketAddress(host, port), Timeouts.asInt(timeoutMillis));
      channel.configureBlocking(false);
      selector = Selector.open();
      return new TcpConnection(endpoint, channel, selector, timeoutMillis);
    } catch (java.net.SocketTimeoutException e) {
      closeQuietly(channel);
      closeQuietly(selector);
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "vineyardd's RPC port at " + endpoint
          + " did not accept the connection within " + Timeouts.describe(timeoutMillis) + " (the timeout)", e);
    } catch (IOException e) {
      closeQuietly(channel);
      closeQuietly(selector);
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to vineyardd's RPC port at " + endpoint + ": " + e.getMessage(), e);
    }
  }

  @Override
  protected int readWithin(ByteBuffer buffer) throws IOException {
    int n = channel.read(buffer);
    return n != 0 || !ready(SelectionKey.OP_READ) ? n : channel.read(buffer);
  }

  @Override
  protected int writeWithin(ByteBuffer buffer) throws IOException {
    int n = channel.write(buffer);
    return n != 0 || !ready(SelectionKey.OP_WRITE) ? n : channel.write(buffer);
  }

  /** Waits until the channel is ready for {@code operation}; false when the deadline passed. */
  private boolean ready(int operation) throws IOException {
    key.interestOps(operation);
    long deadline = System.nanoTime() + timeoutMillis() * 1_000_000L;
    try {
      for (long left = timeoutMillis(); left > 0; left = (deadline - System.nanoTime()) / 1_000_000L) {
        if (selector.select(left) > 0) {
          return true;
        }
      }
      return false;
    } finally {
      selector.selectedKeys().clear();
      if (key.isValid()) {
        key.interestOps(0);
      }
    }
  }

  @Override
  public void close() {
    super.close();
    closeQuietly(selector);
  }

  private static void closeQuietly(java.io.Closeable closeable) {
    if (closeable != null) {
      try {
        closeable.close();
      } catch (IOException ignored) {
        // nothing to recover
      }
    }
  }
}
