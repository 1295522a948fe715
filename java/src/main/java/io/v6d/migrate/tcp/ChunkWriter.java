package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Codec;
import io.v6d.migrate.compress.CodecThreads;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.shm.NativeMemory;
import io.v6d.migrate.shm.Prefault;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;

/**
 * DATA frames straight from mapped shared memory: each frame is a 32-byte header plus a view of
 * the blob's bytes (no copy; the kernel reads them from the mapping when the socket takes them).
 * Netty's ChunkedWriteHandler pulls frames only as fast as the socket drains, so the CRC of a chunk
 * is computed just before it is sent.
 *
 * <p>With a compressor, frames are prepared on {@link CodecThreads} instead (a chunk takes
 * milliseconds to compress, which no event loop may spend), in order, at most {@link #LOOKAHEAD}
 * ahead of the socket: {@link #readChunk} hands over the next prepared frame, or returns null and
 * the handler's transfer is resumed when one is ready. A compressing thread reads the blob's
 * mapping until {@link #finish} completes: the owner unmaps only after that.
 */
public final class ChunkWriter implements ChunkedInput<ByteBuf> {
  /** One chunk to send: {@code wireId} is the id the receiver knows the blob by. */
  public record Chunk(long wireId, long offset, int length, long address) {}

  /** Frames prepared ahead of the socket by the compressing path: what bounds its memory. */
  static final int LOOKAHEAD = 2;

  /** A frame ready to go and the raw bytes it carries. */
  private record Prepared(ByteBuf frame, int rawLength) {}

  private final Iterator<Chunk> chunks;
  private final long totalBytes;
  private final LongConsumer sent;
  private long progress;
  private Chunk pending;
  private ChunkCompressor compressor;
  private Runnable resume;
  private Executor executor;
  /** Frame bytes handed to the socket (headers included, compressed where compressed). */
  private volatile long wireBytes;
  // the compressing path's state, guarded by this
  private final ArrayDeque<Prepared> ready = new ArrayDeque<>();
  private boolean preparing;
  private boolean ended;
  private Throwable failed;
  private final CompletableFuture<Void> finished = new CompletableFuture<>();

  /** {@code sent} is told the bytes of each chunk as it is handed to the socket. */
  public ChunkWriter(List<Chunk> chunks, LongConsumer sent) {
    this.chunks = chunks.iterator();
    this.totalBytes = chunks.stream().mapToLong(Chunk::length).sum();
    this.sent = sent;
  }

  /**
   * Compress chunks as {@code compressor} decides (the connection's negotiated compression), on
   * {@link CodecThreads}; {@code resume} restarts the paused transfer (the pipeline's
   * ChunkedWriteHandler#resumeTransfer; callable from any thread). A null compressor: never.
   */
  public ChunkWriter compressing(ChunkCompressor compressor, Runnable resume) {
    this.compressor = compressor;
    this.resume = resume;
    this.executor = CodecThreads.executor();
    return this;
  }

  @Override
  public boolean isEndOfInput() {
    if (compressor == null) {
      return pending == null && !chunks.hasNext();
    }
    synchronized (this) {
      return failed == null && ready.isEmpty() && !preparing && !hasNextChunk();
    }
  }

  @Override
  public void close() {
    finish();
  }

  /**
   * Ends this writer (nothing more is read) and releases what was prepared; completes once no
   * compressing thread reads the blobs' mappings any more. Idempotent.
   */
  public CompletableFuture<Void> finish() {
    synchronized (this) {
      ended = true;
      ready.forEach(p -> p.frame().release());
      ready.clear();
      if (!preparing) {
        finished.complete(null);
      }
    }
    return finished;
  }

  /** Completes once this writer has ended and no compressing thread reads the mappings any more. */
  public CompletableFuture<Void> finished() {
    return finished;
  }

  @Deprecated
  @Override
  public ByteBuf readChunk(ChannelHandlerContext ctx) {
    return readChunk(ctx.alloc());
  }

  @Override
  public ByteBuf readChunk(ByteBufAllocator allocator) {
    return compressor == null ? readRaw(allocator) : readPrepared(allocator);
  }

  private ByteBuf readRaw(ByteBufAllocator allocator) {
    if (ended || isEndOfInput()) {
      return null;
    }
    if (pending == null) {
      pending = chunks.next(); // a stalled chunk stays pending
    }
    if (FaultInjection.installed().stallSending(pending.length())) {
      return null;
    }
    Chunk chunk = pending;
    pending = null;
    return handedOver(rawFrame(allocator, chunk), chunk.length());
  }

  /**
   * The next prepared frame in order, or null (the transfer resumes when it is ready). A chunk of a
   * blob that goes raw (auto decided so from its probes) is framed here, as without compression,
   * when nothing is prepared or preparing ahead of it: random data then pays no hand-over to a
   * codec thread per chunk.
   */
  private ByteBuf readPrepared(ByteBufAllocator allocator) {
    Prepared next;
    Chunk raw = null;
    synchronized (this) {
      if (failed != null) {
        Throwable cause = failed;
        failed = null;
        throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
      }
      next = ended ? null : ready.peek();
      if (next != null && !FaultInjection.installed().stallSending(next.rawLength())) {
        ready.poll();
      } else {
        next = null;
      }
      if (next == null && !ended && ready.isEmpty() && !preparing && hasNextChunk()) {
        Chunk chunk = nextChunk();
        if (chunk.length() > 0 && compressor.codecFor(chunk.wireId()) != Codec.NONE) {
          pending = chunk; // prepared on a codec thread, first of all
        } else if (FaultInjection.installed().stallSending(chunk.length())) {
          pending = chunk;
          return null;
        } else {
          raw = chunk;
        }
      }
    }
    if (raw != null) {
      return handedOver(rawFrame(allocator, raw), raw.length());
    }
    prepareAhead(allocator);
    return next == null ? null : handedOver(next.frame(), next.rawLength());
  }

  /** Guarded by this on the compressing path: the chunk taken out of order of look-ahead, else the next. */
  private boolean hasNextChunk() {
    return pending != null || chunks.hasNext();
  }

  private Chunk nextChunk() {
    Chunk next = pending != null ? pending : chunks.next();
    pending = null;
    return next;
  }

  private ByteBuf handedOver(ByteBuf frame, int rawLength) {
    progress += rawLength;
    sent.accept(rawLength);
    wireBytes += frame.readableBytes();
    return frame;
  }

  /** Starts preparing the next chunk unless one is under way or enough are ready. */
  private void prepareAhead(ByteBufAllocator allocator) {
    Chunk chunk;
    synchronized (this) {
      if (ended || preparing || ready.size() >= LOOKAHEAD || !hasNextChunk()) {
        return;
      }
      chunk = nextChunk();
      preparing = true;
    }
    executor.execute(() -> prepare(allocator, chunk));
  }

  /** On a codec thread: the chunk's frame, compressed when its codec shrinks it, else raw. */
  private void prepare(ByteBufAllocator allocator, Chunk chunk) {
    ByteBuf frame = null;
    Throwable failure = null;
    try {
      frame = framed(allocator, chunk);
    } catch (Throwable e) {
      failure = e;
    }
    synchronized (this) {
      preparing = false;
      if (ended) {
        if (frame != null) {
          frame.release();
        }
        finished.complete(null);
        return;
      }
      if (frame != null) {
        ready.add(new Prepared(frame, chunk.length()));
      } else {
        failed = failure;
      }
    }
    prepareAhead(allocator);
    resume.run();
  }

  private ByteBuf framed(ByteBufAllocator allocator, Chunk chunk) {
    Codec codec = compressor.choose(chunk.wireId(), chunk.address(), chunk.length());
    if (codec != Codec.NONE) {
      ByteBuf frame = compressed(allocator, chunk, codec);
      if (frame != null) {
        return frame;
      }
      compressor.compressed(chunk.wireId(), codec, chunk.length(), chunk.length());
    }
    return rawFrame(allocator, chunk);
  }

  /** Header and a view of the mapping: the kernel copies the bytes when the socket takes them. */
  private static ByteBuf rawFrame(ByteBufAllocator allocator, Chunk chunk) {
    Prefault.ahead(chunk.address(), chunk.length(), false);
    ByteBuf header = allocator.ioBuffer(FrameHeader.BYTES);
    new FrameHeader(FrameType.DATA, chunk.length(), chunk.wireId(), chunk.offset(), Crc.of(chunk.address(), chunk.length()))
        .writeTo(header);
    CompositeByteBuf frame = allocator.compositeDirectBuffer(2);
    frame.addComponent(true, header);
    if (chunk.length() > 0) {
      frame.addComponent(true, Unpooled.wrappedBuffer(NativeMemory.view(chunk.address(), chunk.length())));
    }
    return frame;
  }

  /**
   * The chunk as a DATA_COMPRESSED frame in a pooled direct buffer (bounded by the codec's bound for
   * one chunk), or null when it did not shrink (it then goes raw, zero-copy).
   */
  private ByteBuf compressed(ByteBufAllocator allocator, Chunk chunk, Codec codec) {
    int prefix = FrameHeader.BYTES + FrameDecoder.COMPRESSED_PREFIX;
    ByteBuf frame = allocator.directBuffer(prefix + codec.maxCompressedLength(chunk.length()));
    try {
      int size = codec.compress(chunk.address(), chunk.length(), frame.nioBuffer(prefix, frame.capacity() - prefix));
      if (size + FrameDecoder.COMPRESSED_PREFIX >= chunk.length()) {
        frame.release();
        return null;
      }
      new FrameHeader(FrameType.DATA_COMPRESSED, FrameDecoder.COMPRESSED_PREFIX + size, chunk.wireId(), chunk.offset(),
          Crc.of(chunk.address(), chunk.length())).writeTo(frame);
      frame.writeByte(codec.code()).writeInt(FaultInjection.installed().declaredLength(chunk.length()));
      frame.writerIndex(prefix + size);
      compressor.compressed(chunk.wireId(), codec, chunk.length(), FrameDecoder.COMPRESSED_PREFIX + size);
      return frame;
    } catch (RuntimeException e) {
      frame.release();
      throw e;
    }
  }

  /** Frame bytes handed to the socket so far: what these chunks cost on the wire. */
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
