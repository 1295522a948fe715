package io.v6d.migrate.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deadline mechanism of both framed connections, against a listener that accepts and never
 * answers (what a stopped vineyardd looks like to a client). The behaviour with a real, stopped
 * vineyardd is tested in tests/test_timeouts.py.
 */
class DeadlineTest {
  private static final Duration BOUND = Duration.ofSeconds(30); // fails instead of hanging

  @Test
  void ipcSocketThatNeverAnswers(@TempDir Path dir) throws Exception {
    Path socket = dir.resolve("silent.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      MigrateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(MigrateException.class,
          () -> VineyardClient.connect(socket.toString(), 300)));
      assertNamesPeerAndRequest(e, socket.toString());
    } finally {
      Files.deleteIfExists(socket);
    }
  }

  @Test
  void ipcSocketThatNeverAccepts(@TempDir Path dir) throws Exception {
    Path socket = dir.resolve("full.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket), 1);
      java.util.List<java.nio.channels.SocketChannel> queued = new java.util.ArrayList<>();
      try {
        for (int i = 0; i < 4; i++) { // fills the accept queue; a blocking connect would then wait for ever
          java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open(StandardProtocolFamily.UNIX);
          client.configureBlocking(false);
          queued.add(client);
          try {
            client.connect(UnixDomainSocketAddress.of(socket));
          } catch (java.io.IOException full) { // EAGAIN: the queue is full
            break;
          }
        }
        MigrateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(MigrateException.class,
            () -> UnixConnection.open(socket.toString(), 300)));
        assertEquals(ErrorCode.CONNECTION_ERROR, e.code());
        assertTrue(e.getMessage().contains(socket.toString()) && e.getMessage().contains("accept"), e.getMessage());
      } finally {
        for (java.nio.channels.SocketChannel client : queued) {
          client.close();
        }
      }
    } finally {
      Files.deleteIfExists(socket);
    }
  }

  @Test
  void rpcPortThatNeverAnswers() throws Exception {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      String endpoint = "127.0.0.1:" + ((InetSocketAddress) server.getLocalAddress()).getPort();
      MigrateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(MigrateException.class,
          () -> VineyardClient.connectRpc(endpoint, 300)));
      assertNamesPeerAndRequest(e, endpoint);
    }
  }

  @Test
  void rpcPortThatNeverAccepts() throws Exception {
    // a full accept queue: the kernel drops further SYNs, so a connect gets no answer at all
    try (java.net.ServerSocket server = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      java.util.List<java.net.Socket> queued = new java.util.ArrayList<>();
      try {
        for (int i = 0; i < 4; i++) {
          java.net.Socket socket = new java.net.Socket();
          try {
            socket.connect(server.getLocalSocketAddress(), 200);
            queued.add(socket);
          } catch (java.io.IOException full) {
            socket.close();
            break;
          }
        }
        String endpoint = "127.0.0.1:" + server.getLocalPort();
        MigrateException e = assertTimeoutPreemptively(BOUND, () -> assertThrows(MigrateException.class,
            () -> TcpConnection.open(endpoint, 300)));
        assertEquals(ErrorCode.CONNECTION_ERROR, e.code());
        assertTrue(e.getMessage().contains(endpoint) && e.getMessage().contains("accept"), e.getMessage());
      } finally {
        for (java.net.Socket socket : queued) {
          socket.close();
        }
      }
    }
  }

  @Test
  void aTimedOutConnectionIsClosed() throws Exception {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      TcpConnection connection = TcpConnection.open(
          "127.0.0.1:" + ((InetSocketAddress) server.getLocalAddress()).getPort(), 200);
      assertTrue(connection.channelIsOpen());
      assertThrows(MigrateException.class,
          () -> connection.call(FrameCodec.newMessage("instance_status_request"), "instance_status_reply"));
      assertFalse(connection.channelIsOpen()); // a late reply cannot be taken for the next one
    }
  }

  private static void assertNamesPeerAndRequest(MigrateException e, String peer) {
    assertEquals(ErrorCode.CONNECTION_ERROR, e.code());
    assertTrue(e.getMessage().contains(peer), e.getMessage());
    assertTrue(e.getMessage().contains("register_request"), e.getMessage());
  }
}
