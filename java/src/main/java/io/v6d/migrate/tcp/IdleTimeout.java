package io.v6d.migrate.tcp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Closes a connection on which nothing was read or written for a while: a dead peer. A request
 * that legitimately takes long (waiting for a stream's next chunk) marks the connection busy.
 */
final class IdleTimeout extends IdleStateHandler {
  private final int seconds;
  private final BooleanSupplier busy;

  IdleTimeout(int seconds, BooleanSupplier busy) {
    super(0, 0, seconds, TimeUnit.SECONDS);
    this.seconds = seconds;
    this.busy = busy;
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent event) {
    if (busy.getAsBoolean()) {
      return;
    }
    ctx.fireExceptionCaught(new MigrateException(ErrorCode.CONNECTION_ERROR,
        "no traffic from " + ctx.channel().remoteAddress() + " for " + seconds + " s: closing"));
    ctx.close();
  }
}
