package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.FileRegion;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AbstractReferenceCounted;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.shm.Prefault;
import io.v6d.migrate.shm.StoreMapping;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A DATA frame whose bytes the kernel sends straight from vineyardd's store file ({@code sendfile}):
 * the header goes as a buffer, the bytes as this region of the store. A plain write from the mapping
 * makes the kernel copy every byte into socket buffers first; this way the sending side copies
 * nothing, which on a host whose cores both ends share is CPU the transfer gets back. Plaintext only
 * (TLS must encrypt the bytes in this process); the store file belongs to its {@link StoreMapping},
 * which outlives the connections that send from it, so a region does not close it.
 */
public final class StoreRegion extends AbstractReferenceCounted implements FileRegion {
  /** {@code -Dio.v6d.migrate.sendfile=false} sends every chunk from the mapping instead. */
  private static final boolean ENABLED = !"false".equals(System.getProperty("io.v6d.migrate.sendfile"));

  private final FileChannel file;
  private final long position;
  private final long count;
  private long transferred;

  StoreRegion(FileChannel file, long position, long count) {
    this.file = file;
    this.position = position;
    this.count = count;
  }

  /** Whether chunks of {@code store} can go by {@link #write} on {@code channel}. */
  public static boolean usable(Channel channel, StoreMapping store) {
    return ENABLED && store != null && channel.pipeline().get(SslHandler.class) == null && store.file() != null;
  }

  /**
   * Writes {@code chunk} (inside {@code store}, see {@link #usable}) as a DATA frame: its CRC is
   * taken from the mapping now, its bytes are read by the kernel from the file when the socket
   * takes them. Returns the future of the frame's last part.
   */
  public static ChannelFuture write(ChannelHandlerContext ctx, ChunkWriter.Chunk chunk, StoreMapping store) {
    Prefault.ahead(chunk.address(), chunk.length(), false);
    ByteBuf header = ctx.alloc().ioBuffer(FrameHeader.BYTES);
    new FrameHeader(FrameType.DATA, chunk.length(), chunk.wireId(), chunk.offset(), Crc.of(chunk.address(), chunk.length()))
        .writeTo(header);
    ChannelFuture written = ctx.write(header);
    if (chunk.length() > 0) {
      written = ctx.write(new StoreRegion(store.file(), store.fileOffset(chunk.address()), chunk.length()));
    }
    return written;
  }

  @Override
  public long position() {
    return position;
  }

  @Override
  public long transferred() {
    return transferred;
  }

  @Deprecated
  @Override
  public long transfered() {
    return transferred;
  }

  @Override
  public long count() {
    return count;
  }

  @Override
  public long transferTo(WritableByteChannel target, long offset) throws IOException {
    long left = count - offset;
    if (left <= 0) {
      return 0;
    }
    long written = file.transferTo(position + offset, left, target);
    if (written > 0) {
      transferred += written;
    }
    return written;
  }

  @Override
  public StoreRegion retain() {
    super.retain();
    return this;
  }

  @Override
  public StoreRegion retain(int increment) {
    super.retain(increment);
    return this;
  }

  @Override
  public StoreRegion touch() {
    return this;
  }

  @Override
  public StoreRegion touch(Object hint) {
    return this;
  }

  @Override
  protected void deallocate() {
    // the file is the store mapping's: it stays open for the next chunks
  }
}
