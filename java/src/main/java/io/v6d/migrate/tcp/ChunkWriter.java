package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Codec;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.shm.NativeMemory;
import java.util.Iterator;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * DATA frames straight from mapped shared memory: each frame is a 32-byte header plus a view of
 * the blob's bytes (no copy; the kernel reads them from the mapping when the socket takes them).
 * Netty's ChunkedWriteHandler pulls frames only as fast as the socket drains, so the CRC of a chunk
 * is computed just before it is sent.
 */
public final class ChunkWriter implements ChunkedInput<ByteBuf> {
  /** One chunk to send: {@code wireId} is the id the receiver knows the blob by. */
  public record Chunk(long wireId, long offset, int length, long address) {}

  private final Iterator<Chunk> chunks;
  private final long totalBytes;
  private final LongConsumer sent;
  private long progress;
  private boolean ended;
  private Chunk pending;
  private ChunkCompressor compressor;
  /** Frame bytes handed to the socket (headers included, compressed where compressed). */
  private long wireBytes;

  /** {@code sent} is told the bytes of each chunk as it is handed to the socket. */
  public ChunkWriter(List<Chunk> chunks, LongConsumer sent) {
    this.chunks = chunks.iterator();
    this.totalBytes = chunks.stream().mapToLong(Chunk::length).sum();
    this.sent = sent;
  }

  /** Compress chunks as {@code compressor} decides (the connection's negotiated compression); null: never. */
  public ChunkWriter compressing(ChunkCompressor compressor) {
    this.compressor = compressor;
    return this;
  }

  @Override
  public boolean isEndOfInput() {
    return pending == null && !chunks.hasNext();
  }

  /** The next chunk, taken from the iterator once (a stalled chunk stays pending). */
  private Chunk next() {
    if (pending == null) {
      pending = chunks.next();
    }
    return pending;
  }

  @Override
  public void close() {
    ended = true;
  }

  @Deprecated
  @Override
  public ByteBuf readChunk(ChannelHandlerContext ctx) {
    return readChunk(ctx.alloc());
  }

  @Override
  public ByteBuf readChunk(ByteBufAllocator allocator) {
    if (ended || isEndOfInput() || FaultInjection.installed().stallSending(next().length())) {
      return null;
    }
    Chunk chunk = pending;
    pending = null;
    NativeMemory.populate(chunk.address(), chunk.length(), false);
    progress += chunk.length();
    sent.accept(chunk.length());
    Codec codec = compressor == null || chunk.length() == 0 ? Codec.NONE : compressor.codecFor(chunk.wireId());
    if (codec != Codec.NONE) {
      ByteBuf frame = compressed(allocator, chunk, codec);
      if (frame != null) {
        wireBytes += frame.readableBytes();
        return frame;
      }
    }
    if (compressor != null) {
      compressor.sent(chunk.wireId(), codec, chunk.length(), chunk.length());
    }
    ByteBuf header = allocator.ioBuffer(FrameHeader.BYTES);
    new FrameHeader(FrameType.DATA, chunk.length(), chunk.wireId(), chunk.offset(), Crc.of(chunk.address(), chunk.length()))
        .writeTo(header);
    CompositeByteBuf frame = allocator.compositeDirectBuffer(2);
    frame.addComponent(true, header);
    if (chunk.length() > 0) {
      frame.addComponent(true, Unpooled.wrappedBuffer(NativeMemory.view(chunk.address(), chunk.length())));
    }
    wireBytes += frame.readableBytes();
    return frame;
  }

  /**
   * The chunk as a DATA_COMPRESSED frame in a pooled direct buffer (bounded by the codec's bound for
   * one chunk), or null when it did not shrink (it then goes raw, zero-copy).
   */
  private ByteBuf compressed(ByteBufAllocator allocator, Chunk chunk, Codec codec) {
    int prefix = FrameHeader.BYTES + FrameDecoder.COMPRESSED_PREFIX;
    ByteBuf frame = allocator.directBuffer(prefix + codec.maxCompressedLength(chunk.length()));
    int size = codec.compress(chunk.address(), chunk.length(), frame.nioBuffer(prefix, frame.capacity() - prefix));
    if (size + FrameDecoder.COMPRESSED_PREFIX >= chunk.length()) {
      frame.release();
      return null;
    }
    new FrameHeader(FrameType.DATA_COMPRESSED, FrameDecoder.COMPRESSED_PREFIX + size, chunk.wireId(), chunk.offset(),
        Crc.of(chunk.address(), chunk.length())).writeTo(frame);
    frame.writeByte(codec.code()).writeInt(FaultInjection.installed().declaredLength(chunk.length()));
    frame.writerIndex(prefix + size);
    compressor.sent(chunk.wireId(), codec, chunk.length(), FrameDecoder.COMPRESSED_PREFIX + size);
    return frame;
  }

  /** Frame bytes produced so far: what these chunks cost on the wire. */
  public long wireBytes() {
    return wireBytes;
  }

  @Override
  public long length() {
    return totalBytes;
  }

  @Override
  public long progress() {
    return progress;
  }
}
