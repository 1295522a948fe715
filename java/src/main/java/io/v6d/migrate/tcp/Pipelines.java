package io.v6d.migrate.tcp;

import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.v6d.migrate.protocol.FrameHeader;
import java.util.function.BooleanSupplier;

/** The channel pipeline both ends share: timeouts, chunked DATA writes, frame codec. */
public final class Pipelines {
  /** JSON bodies (metadata trees) and DATA chunks larger than these are refused. */
  public static final FrameHeader.Limits LIMITS = new FrameHeader.Limits(64L << 20, 64L << 20);
  private static final FrameEncoder ENCODER = new FrameEncoder();

  private Pipelines() {}

  /**
   * Installs the codec; returns the decoder, which the handshake and the data path drive. While
   * {@code busy} holds (a long request under way), the connection is not idle.
   */
  public static FrameDecoder install(SocketChannel channel, int idleTimeoutSeconds, BooleanSupplier busy) {
    return install(channel, new IdleTimeout(idleTimeoutSeconds, busy));
  }

  static FrameDecoder install(SocketChannel channel, IdleTimeout timeout) {
    FrameDecoder decoder = new FrameDecoder(LIMITS);
    channel.config().setRecvByteBufAllocator(new PlannedReadAllocator(decoder));
    ChannelPipeline pipeline = channel.pipeline();
    pipeline.addLast("timeout", timeout);
    pipeline.addLast("chunks", new ChunkedWriteHandler());
    pipeline.addLast("encoder", ENCODER);
    pipeline.addLast("decoder", decoder);
    return decoder;
  }
}
