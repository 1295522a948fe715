package io.v6d.migrate.tcp;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.v6d.migrate.protocol.FrameHeader;
import java.util.function.BooleanSupplier;

/** The channel pipeline both ends share: timeouts, chunked DATA writes, frame codec. */
public final class Pipelines {
  /** JSON bodies (metadata trees) and DATA chunks larger than these are refused. */
  public static final FrameHeader.Limits LIMITS = new FrameHeader.Limits(64L << 20, 64L << 20);
  private static final FrameEncoder ENCODER = new FrameEncoder();
  /**
   * Plaintext handed to the TLS engine per wrap call. Netty's default is one record (16 KiB); the
   * OpenSSL engine writes as many records as it is given into one output buffer, so 256 KiB makes
   * 16 records per call, its JNI crossing, output buffer and write (the agent's profile had
   * {@code SslHandler.wrap} at a third of its busy samples, the cipher itself at under half of it).
   */
  static final int TLS_WRAP_BYTES = 256 << 10;

  /**
   * The largest socket read of ciphertext (Netty's default is 64 KiB). SslHandler decrypts a whole
   * read into one pooled buffer that the decoder then copies into the mapping; at 256 KiB the read,
   * BoringSSL's copy of it and that buffer stay in a core's L2 (1 MiB here) until they are used. 1 MiB
   * reads cost the client 0.166 CPU-s per 256 MiB pull against 0.140 at 256 KiB (A/B, 4 rounds of 20
   * warm pulls each, every round lower); 128 KiB and 64 KiB were no better than 256 KiB.
   */
  static final int TLS_READ_BYTES = 256 << 10;

  private Pipelines() {}

  /**
   * Restarts {@code channel}'s paused DATA transfer (a {@link ChunkWriter} whose next frame was not
   * ready); callable from any thread, a no-op once the pipeline is gone.
   */
  public static Runnable resumer(Channel channel) {
    return () -> {
      ChunkedWriteHandler chunks = channel.pipeline().get(ChunkedWriteHandler.class);
      if (chunks != null) {
        chunks.resumeTransfer();
      }
    };
  }

  /**
   * Installs the codec; returns the decoder, which the handshake and the data path drive. While
   * {@code busy} holds (a long request under way), the connection is not idle.
   */
  public static FrameDecoder install(SocketChannel channel, int idleTimeoutSeconds, BooleanSupplier busy) {
    return install(channel, new IdleTimeout(idleTimeoutSeconds, busy), null);
  }

  /** The same over TLS ({@code tls} null: plaintext). */
  public static FrameDecoder install(SocketChannel channel, int idleTimeoutSeconds, BooleanSupplier busy, SslHandler tls) {
    return install(channel, new IdleTimeout(idleTimeoutSeconds, busy), tls);
  }

  /**
   * Plaintext: socket reads are planned by the decoder, so DATA lands in shared memory with no copy.
   * TLS: the socket reads ciphertext into Netty's pooled buffers, the {@link SslHandler} decrypts into
   * pooled buffers (direct with OpenSSL), and the decoder copies each record's plaintext into the
   * mapping; no buffer grows with the blob, so the heap stays bounded.
   */
  static FrameDecoder install(SocketChannel channel, IdleTimeout timeout, SslHandler tls) {
    FrameDecoder decoder = new FrameDecoder(LIMITS);
    ChannelPipeline pipeline = channel.pipeline();
    if (tls == null) {
      channel.config().setRecvByteBufAllocator(new PlannedReadAllocator(decoder));
    } else {
      tls.setWrapDataSize(TLS_WRAP_BYTES);
      channel.config().setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator(64, TLS_READ_BYTES / 4, TLS_READ_BYTES));
      pipeline.addLast("tls", tls);
    }
    pipeline.addLast("timeout", timeout);
    pipeline.addLast("chunks", new ChunkedWriteHandler());
    pipeline.addLast("encoder", ENCODER);
    pipeline.addLast("decoder", decoder);
    return decoder;
  }
}
