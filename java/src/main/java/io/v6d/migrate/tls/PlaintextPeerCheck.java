package io.v6d.migrate.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import java.util.concurrent.TimeUnit;

/**
 * First in a TLS agent's pipeline: a TLS client speaks first (its ClientHello), a plaintext client
 * waits for the agent's HELLO. A peer silent for a moment after connecting is therefore a plaintext
 * client; it gets a plaintext ERROR frame saying the agent requires TLS, and is disconnected, rather
 * than waiting for its own timeout. Removes itself at the peer's first bytes.
 */
public final class PlaintextPeerCheck extends ChannelInboundHandlerAdapter {
  static final long SILENCE_MILLIS = 3000;
  private ScheduledFuture<?> check;

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    check = ctx.executor().schedule(() -> refuse(ctx), SILENCE_MILLIS, TimeUnit.MILLISECONDS);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    cancel();
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    ctx.fireChannelInactive();
  }

  private void cancel() {
    if (check != null) {
      check.cancel(false);
    }
  }

  private static void refuse(ChannelHandlerContext ctx) {
    byte[] body;
    try {
      body = FrameCodec.mapper().writeValueAsBytes(FrameCodec.mapper().createObjectNode()
          .put("code", ErrorCode.CONNECTION_ERROR.value())
          .put("message", "this agent requires TLS: connect with tls=True (--tls), and tls_ca=/--tls-ca naming the CA "
              + "that signed its certificate"));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    ByteBuf frame = ctx.alloc().buffer(FrameHeader.BYTES + body.length);
    FrameHeader.control(FrameType.ERROR, body.length).writeTo(frame);
    frame.writeBytes(body);
    ctx.writeAndFlush(frame).addListener(ChannelFutureListener.CLOSE);
  }
}
