package io.v6d.migrate.tcp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.concurrent.TimeUnit;

/** Closes a connection on which nothing was read or written for a while: a dead peer. */
final class IdleTimeout extends IdleStateHandler {
  private final int seconds;

  IdleTimeout(int seconds) {
    super(0, 0, seconds, TimeUnit.SECONDS);
    this.seconds = seconds;
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent event) {
    ctx.fireExceptionCaught(new MigrateException(ErrorCode.CONNECTION_ERROR,
        "no traffic from " + ctx.channel().remoteAddress() + " for " + seconds + " s: closing"));
    ctx.close();
  }
}
