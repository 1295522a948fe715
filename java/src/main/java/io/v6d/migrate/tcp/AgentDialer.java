package io.v6d.migrate.tcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.tls.TlsContexts;
import io.v6d.migrate.tls.TlsFiles;
import java.util.concurrent.CompletableFuture;

/**
 * Connects to an agent and authenticates: the client's pipeline (TLS when asked, the frame codec,
 * the handshake, then {@link AgentReplies}), each step within the timeout.
 */
final class AgentDialer {
  /** An authenticated channel, its decoder and its replies. */
  record Dialed(Channel channel, FrameDecoder decoder, AgentReplies replies) {}

  private AgentDialer() {}

  static Dialed dial(AgentEndpoint endpoint, byte[] token, long timeoutMillis, TlsFiles tls) {
    CompletableFuture<Void> handshake = new CompletableFuture<>();
    FrameDecoder[] decoder = new FrameDecoder[1];
    AgentReplies replies = new AgentReplies(endpoint);
    Bootstrap bootstrap = new Bootstrap()
        .group(EventLoops.client())
        .channel(NioSocketChannel.class)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, Timeouts.asInt(timeoutMillis))
        .option(ChannelOption.TCP_NODELAY, true)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            SslHandler ssl = tls.enabled() ? TlsContexts.clientHandler(tls, ch.alloc(), endpoint.host(), endpoint.port()) : null;
            decoder[0] = Pipelines.install(ch, new IdleTimeout(timeoutMillis, replies::quiet, replies::awaited), ssl);
            ch.pipeline().addLast("handshake", new ClientHandshake(token, decoder[0], handshake, endpoint, tls.enabled()));
            ch.pipeline().addLast("replies", replies);
          }
        });
    ChannelFuture connect = bootstrap.connect(endpoint.host(), endpoint.port());
    if (!connect.awaitUninterruptibly(timeoutMillis + 1000) || !connect.isSuccess()) {
      connect.channel().close();
      Throwable cause = connect.cause();
      if (cause == null || cause instanceof ConnectTimeoutException) {
        throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the agent at " + endpoint
            + " did not accept the connection within " + Timeouts.describe(timeoutMillis) + " (the timeout)", cause);
      }
      throw new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to the agent at " + endpoint + ": " + cause.getMessage(), cause);
    }
    try {
      AgentConnection.await(handshake, timeoutMillis, "authenticating with the agent at " + endpoint);
    } catch (RuntimeException e) {
      connect.channel().close().awaitUninterruptibly();
      throw e;
    }
    return new Dialed(connect.channel(), decoder[0], replies);
  }
}
