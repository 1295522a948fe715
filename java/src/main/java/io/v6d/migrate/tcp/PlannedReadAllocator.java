package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * Lets {@link FrameDecoder} choose each socket read's buffer, so DATA payloads are read straight
 * into the target blob's mapping. One instance per channel. Bookkeeping (how many reads per loop)
 * stays with Netty's adaptive allocator.
 */
final class PlannedReadAllocator implements RecvByteBufAllocator {
  private final FrameDecoder decoder;
  private final RecvByteBufAllocator bookkeeping = new AdaptiveRecvByteBufAllocator().maxMessagesPerRead(64);

  PlannedReadAllocator(FrameDecoder decoder) {
    this.decoder = decoder;
  }

  @Override
  public Handle newHandle() {
    return new DelegatingHandle(bookkeeping.newHandle()) {
      @Override
      public ByteBuf allocate(ByteBufAllocator alloc) {
        return decoder.nextReadBuffer(alloc);
      }

      @Override
      public int guess() {
        return decoder.nextReadSize();
      }
    };
  }
}
