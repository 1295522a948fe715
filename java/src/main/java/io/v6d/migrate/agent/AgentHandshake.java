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
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's half of the handshake: challenge the peer, check its proof, prove the token back.
 * A peer that fails, sends anything else, or takes too long is refused and disconnected; until it
 * succeeds, nothing reaches the agent's request handler.
 */
final class AgentHandshake extends SimpleChannelInboundHandler<ControlFrame> {
  private static final Logger LOG = LoggerFactory.getLogger(AgentHandshake.class);
  private static final long DEADLINE_SECONDS = 10;

  private final byte[] token;
  private final FrameDecoder decoder;
  private final byte[] agentNonce = Handshake.nonce();
  private ScheduledFuture<?> deadline;

  AgentHandshake(byte[] token, FrameDecoder decoder) {
    this.token = token;
    this.decoder = decoder;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    deadline = ctx.executor().schedule(() -> refuse(ctx, "no handshake within " + DEADLINE_SECONDS + " s"),
        DEADLINE_SECONDS, TimeUnit.SECONDS);
    ctx.writeAndFlush(new ControlFrame(FrameType.HELLO, FrameCodec.mapper().createObjectNode()
        .put("version", Handshake.PROTOCOL_VERSION)
        .put("nonce", Base64.getEncoder().encodeToString(agentNonce))));
    ctx.fireChannelActive();
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, ControlFrame frame) {
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
    decoder.authenticated();
    ctx.writeAndFlush(new ControlFrame(FrameType.AUTH_OK, FrameCodec.mapper().createObjectNode()
        .put("proof", Base64.getEncoder().encodeToString(Handshake.agentProof(token, agentNonce, clientNonce)))));
    ctx.pipeline().remove(this);
    LOG.debug("authenticated {}", ctx.channel().remoteAddress());
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    refuse(ctx, cause.getMessage());
  }

  private void refuse(ChannelHandlerContext ctx, String why) {
    if (deadline != null) {
      deadline.cancel(false);
    }
    LOG.info("refused {}: {}", ctx.channel().remoteAddress(), why);
    AgentMetrics.authenticationFailed();
    ctx.writeAndFlush(new ControlFrame(FrameType.ERROR, FrameCodec.mapper().createObjectNode()
        .put("code", ErrorCode.CONNECTION_ERROR.value())
        .put("message", "authentication failed")))
        .addListener(ChannelFutureListener.CLOSE);
  }
}
