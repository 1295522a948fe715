package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.ssl.SslHandler;
import java.util.List;

/**
 * A TLS channel's allocator: the buffers {@link SslHandler} decrypts into are chosen by
 * {@link FrameDecoder}, as {@link PlannedReadAllocator} chooses a plaintext channel's socket reads.
 * While a DATA payload is expected, the buffer <em>is</em> the target blob's mapping, so the OpenSSL
 * engine decrypts straight into shared memory and the decoder copies nothing; a frame header gets a
 * buffer of exactly its size, so the payload after it is not decrypted elsewhere.
 *
 * <p>Only the buffer {@code SslHandler} allocates for {@code unwrap}'s output is chosen: every other
 * allocation on the channel (ciphertext to send, cumulation, the decoder's own) goes to the pooled
 * allocator unchanged. {@code SslHandler} asks the channel's allocator for both its decrypt output and
 * its encrypt output through {@code directBuffer(int)}, so the caller is told apart by its stack
 * frames (a few per 4 MiB chunk): a view of a blob must never receive ciphertext to send. The JDK's
 * engine takes heap buffers ({@code buffer(int)}), never chosen here: it keeps the copying path.
 */
final class DecryptingAllocator implements ByteBufAllocator {
  private static final String SSL_HANDLER = SslHandler.class.getName();
  private static final StackWalker WALKER = StackWalker.getInstance();

  private final ByteBufAllocator pooled;
  private final FrameDecoder decoder;

  DecryptingAllocator(ByteBufAllocator pooled, FrameDecoder decoder) {
    this.pooled = pooled;
    this.decoder = decoder;
  }

  /** Whether the caller of {@code directBuffer} is SslHandler allocating unwrap's output. */
  private static boolean forUnwrapOutput() {
    return WALKER.walk(frames -> {
      List<StackWalker.StackFrame> callers = frames.skip(2).limit(2).toList();
      return callers.size() == 2
          && isSslHandler(callers.get(0), "allocate") && isSslHandler(callers.get(1), "unwrap");
    });
  }

  private static boolean isSslHandler(StackWalker.StackFrame frame, String method) {
    return frame.getClassName().equals(SSL_HANDLER) && frame.getMethodName().equals(method);
  }

  @Override
  public ByteBuf directBuffer(int initialCapacity) {
    if (decoder.plansDecryption() && forUnwrapOutput()) {
      return decoder.nextDecryptBuffer(pooled, initialCapacity);
    }
    return pooled.directBuffer(initialCapacity);
  }

  // everything else: the pooled allocator's

  @Override
  public ByteBuf buffer() {
    return pooled.buffer();
  }

  @Override
  public ByteBuf buffer(int initialCapacity) {
    return pooled.buffer(initialCapacity);
  }

  @Override
  public ByteBuf buffer(int initialCapacity, int maxCapacity) {
    return pooled.buffer(initialCapacity, maxCapacity);
  }

  @Override
  public ByteBuf ioBuffer() {
    return pooled.ioBuffer();
  }

  @Override
  public ByteBuf ioBuffer(int initialCapacity) {
    return pooled.ioBuffer(initialCapacity);
  }

  @Override
  public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
    return pooled.ioBuffer(initialCapacity, maxCapacity);
  }

  @Override
  public ByteBuf heapBuffer() {
    return pooled.heapBuffer();
  }

  @Override
  public ByteBuf heapBuffer(int initialCapacity) {
    return pooled.heapBuffer(initialCapacity);
  }

  @Override
  public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
    return pooled.heapBuffer(initialCapacity, maxCapacity);
  }

  @Override
  public ByteBuf directBuffer() {
    return pooled.directBuffer();
  }

  @Override
  public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
    return pooled.directBuffer(initialCapacity, maxCapacity);
  }

  @Override
  public CompositeByteBuf compositeBuffer() {
    return pooled.compositeBuffer();
  }

  @Override
  public CompositeByteBuf compositeBuffer(int maxNumComponents) {
    return pooled.compositeBuffer(maxNumComponents);
  }

  @Override
  public CompositeByteBuf compositeHeapBuffer() {
    return pooled.compositeHeapBuffer();
  }

  @Override
  public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
    return pooled.compositeHeapBuffer(maxNumComponents);
  }

  @Override
  public CompositeByteBuf compositeDirectBuffer() {
    return pooled.compositeDirectBuffer();
  }

  @Override
  public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
    return pooled.compositeDirectBuffer(maxNumComponents);
  }

  @Override
  public boolean isDirectBufferPooled() {
    return pooled.isDirectBufferPooled();
  }

  @Override
  public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
    return pooled.calculateNewCapacity(minNewCapacity, maxCapacity);
  }
}
