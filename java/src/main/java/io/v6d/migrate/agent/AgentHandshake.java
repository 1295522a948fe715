package io.v6d.migrate.agent;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.metrics.AgentMetrics;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.protocol.Handshake;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.tcp.FrameDecoder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

/**
 * The agent's half of the handshake: challenge the peer, check its proof, prove the token back.
 * A peer that fails, sends anything else, or takes too long is refused and disconnected; until it
 * succeeds, nothing reaches the agent's request handler. Failures are throttled per address
 * ({@link AuthThrottle}: the refusal is sent after a growing delay, scheduled on the event loop,
 * and an address with many failures is refused at connect) and logged at a bounded rate.
 */
final class AgentHandshake extends SimpleChannelInboundHandler<ControlFrame> {
  private static final long DEADLINE_SECONDS = 10;

  private final byte[] token;
  private final FrameDecoder decoder;
  private final AuthThrottle throttle;
  private final RateLimitedLog failures;
  private final byte[] agentNonce = Handshake.nonce();
  private ScheduledFuture<?> deadline;
  /** Set once the peer has failed: nothing it sends matters any more. */
  private boolean refusing;

  AgentHandshake(byte[] token, FrameDecoder decoder, AuthThrottle throttle, RateLimitedLog failures) {
    this.token = token;
    this.decoder = decoder;
    this.throttle = throttle;
    this.failures = failures;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    long wait = throttle.lockedOutFor(peer(ctx));
    if (wait > 0) {
      refusing = true;
      failures.info("refused " + ctx.channel().remoteAddress() + ": locked out after repeated authentication failures");
      send(ctx, "too many authentication failures from " + peer(ctx).getHostAddress() + ": try again in "
          + ((wait + 999) / 1000) + " s");
      return;
    }
    deadline = ctx.executor().schedule(() -> refuse(ctx, "no handshake within " + DEADLINE_SECONDS + " s"),
        DEADLINE_SECONDS, TimeUnit.SECONDS);
    ctx.writeAndFlush(new ControlFrame(FrameType.HELLO, FrameCodec.mapper().createObjectNode()
        .put("version", Handshake.PROTOCOL_VERSION)
        .put("nonce", Base64.getEncoder().encodeToString(agentNonce))));
    ctx.fireChannelActive();
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, ControlFrame frame) {
    if (refusing) {
      return;
    }
    if (frame.type() != FrameType.AUTH) {
      refuse(ctx, "expected AUTH, got " + frame.type());
      return;
    }
    byte[] clientNonce;
    byte[] proof;
    try {
      clientNonce = Base64.getDecoder().decode(frame.body().path("nonce").asText());
      proof = Base64.getDecoder().decode(frame.body().path("proof").asText());
    } catch (IllegalArgumentException e) {
      refuse(ctx, "malformed AUTH");
      return;
    }
    if (clientNonce.length != Handshake.NONCE_BYTES
        || !Handshake.matches(Handshake.clientProof(token, agentNonce, clientNonce), proof)) {
      refuse(ctx, "wrong token");
      return;
    }
    deadline.cancel(false);
    throttle.succeeded(peer(ctx));
    decoder.authenticated();
    ctx.writeAndFlush(new ControlFrame(FrameType.AUTH_OK, FrameCodec.mapper().createObjectNode()
        .put("proof", Base64.getEncoder().encodeToString(Handshake.agentProof(token, agentNonce, clientNonce)))));
    ctx.pipeline().remove(this);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!refusing) {
      refuse(ctx, cause.getMessage());
    }
  }

  /** Counts the failure, logs it (rate-limited), and answers after the throttle's delay. */
  private void refuse(ChannelHandlerContext ctx, String why) {
    refusing = true;
    if (deadline != null) {
      deadline.cancel(false);
    }
    long delay = throttle.failed(peer(ctx));
    failures.info("refused " + ctx.channel().remoteAddress() + ": " + why);
    AgentMetrics.authenticationFailed();
    if (delay == 0) {
      send(ctx, "authentication failed");
    } else {
      ctx.executor().schedule(() -> send(ctx, "authentication failed"), delay, TimeUnit.MILLISECONDS);
    }
  }

  /** A peer that leaves (a port probe) is no failure: its deadline must not fire later. */
  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (deadline != null) {
      deadline.cancel(false);
    }
    ctx.fireChannelInactive();
  }

  private static void send(ChannelHandlerContext ctx, String message) {
    ctx.writeAndFlush(new ControlFrame(FrameType.ERROR, FrameCodec.mapper().createObjectNode()
        .put("code", ErrorCode.CONNECTION_ERROR.value())
        .put("message", message)))
        .addListener(ChannelFutureListener.CLOSE);
  }

  private static InetAddress peer(ChannelHandlerContext ctx) {
    return ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
  }
}
