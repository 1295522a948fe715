package io.v6d.migrate.tcp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Closes a connection on which nothing was read or written for a while: a dead or stopped peer.
 * Traffic in either direction restarts the clock, so a long transfer that keeps moving is never
 * idle. While {@code quiet} holds, silence is expected (nothing is awaited, or a request that
 * legitimately takes long, such as a stream's next chunk, is under way) and the connection stays.
 */
final class IdleTimeout extends IdleStateHandler {
  private final long millis;
  private final BooleanSupplier quiet;
  private final Supplier<String> awaited;

  /** The agent's side: closes peers silent for {@code seconds}. */
  IdleTimeout(int seconds, BooleanSupplier quiet) {
    this(seconds * 1000L, quiet, () -> null);
  }

  /** @param awaited what was awaited when the peer fell silent, for the message (null: nothing named) */
  IdleTimeout(long millis, BooleanSupplier quiet, Supplier<String> awaited) {
    super(0, 0, millis, TimeUnit.MILLISECONDS);
    this.millis = millis;
    this.quiet = quiet;
    this.awaited = awaited;
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent event) {
    if (quiet.getAsBoolean()) {
      return;
    }
    String what = awaited.get();
    ctx.fireExceptionCaught(new MigrateException(ErrorCode.CONNECTION_ERROR, "no traffic from "
        + ctx.channel().remoteAddress() + " for " + Timeouts.describe(millis)
        + (what == null ? "" : " while waiting for " + what + " (the timeout)") + ": closing"));
    ctx.close();
  }
}
