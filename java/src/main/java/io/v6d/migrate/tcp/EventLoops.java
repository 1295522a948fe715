package io.v6d.migrate.tcp;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;

/** The client side's event loops, shared by every connection of this JVM; daemon threads. */
public final class EventLoops {
  private EventLoops() {}

  private static final class Holder {
    static final EventLoopGroup CLIENT = new NioEventLoopGroup(
        Math.max(2, Runtime.getRuntime().availableProcessors()),
        new DefaultThreadFactory("vineyard-migrate-client", true));
  }

  public static EventLoopGroup client() {
    return Holder.CLIENT;
  }
}
