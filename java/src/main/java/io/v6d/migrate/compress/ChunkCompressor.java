package io.v6d.migrate.compress;

import java.util.HashMap;
import java.util.Map;

/**
 * The sending side's choice per chunk, for one connection. {@code lz4}/{@code zstd}: always (a chunk
 * that does not shrink goes raw). {@code auto}: samples the first {@link #SAMPLES} chunks of each
 * blob -- with zstd over shuffled bytes and with zstd alone, in turn, when the peer decodes the
 * shuffle, else with zstd -- then sends the rest of that blob with the codec that shrank its samples
 * most, or raw when none shrank them below {@link #WORTH_IT} of their size, so random data pays for
 * a few sampled chunks only. Called from the codec threads that prepare a connection's frames
 * (one chunk at a time, but not always on the same thread): synchronized.
 */
public final class ChunkCompressor {
  /**
   * The field of the "compression" request and its reply by which each end says it decodes
   * {@link Codec#ZSTD_SHUFFLED} (peers of earlier versions do not, and never get it).
   */
  public static final String DECODES_SHUFFLED = "decodes_zstd_shuffled";
  static final int SAMPLES = 2;
  /**
   * Compress a blob only when its samples shrank by a fifth or more: float64 noise shrinks to 0.94
   * with zstd and 0.84 shuffled, and on a link faster than the codec (unshaped, 10 Gbit/s) that
   * saving costs more CPU time than the bytes it saves (measured: auto on noise twice the CPU of
   * none at 0.9, for 16% fewer bytes).
   */
  static final double WORTH_IT = 0.8;

  private final Compression compression;
  private final boolean peerDecodesShuffled;
  /** Per blob (wire id): what its sampled chunks gave. */
  private final Map<Long, Samples> samples = new HashMap<>();

  /** Per sampled codec, raw and wire bytes; {@code decided} once every sample has been sent. */
  private static final class Samples {
    final long[] raw = new long[Codec.values().length];
    final long[] wire = new long[Codec.values().length];
    int count;
    Codec decided;
  }

  public ChunkCompressor(Compression compression) {
    this(compression, false);
  }

  /** {@code peerDecodesShuffled}: the peer said it decodes {@link Codec#ZSTD_SHUFFLED}. */
  public ChunkCompressor(Compression compression, boolean peerDecodesShuffled) {
    this.compression = compression;
    this.peerDecodesShuffled = peerDecodesShuffled;
  }

  /** The codec for the next chunk of blob {@code blobId}. */
  public synchronized Codec codecFor(long blobId) {
    return switch (compression) {
      case NONE -> Codec.NONE;
      case LZ4 -> Codec.LZ4;
      case ZSTD -> Codec.ZSTD;
      case AUTO -> {
        Samples seen = samples.get(blobId);
        if (seen != null && seen.decided != null) {
          yield seen.decided;
        }
        int sample = seen == null ? 0 : seen.count;
        yield peerDecodesShuffled && sample % 2 == 0 ? Codec.ZSTD_SHUFFLED : Codec.ZSTD;
      }
    };
  }

  /**
   * What compressing a chunk of {@code rawBytes} with {@code codec} gave: {@code wireBytes}, or
   * {@code rawBytes} when it did not shrink and went raw.
   */
  public synchronized void sent(long blobId, Codec codec, int rawBytes, int wireBytes) {
    if (compression != Compression.AUTO || codec == Codec.NONE) {
      return;
    }
    Samples seen = samples.computeIfAbsent(blobId, id -> new Samples());
    if (seen.decided != null) {
      return;
    }
    seen.raw[codec.ordinal()] += rawBytes;
    seen.wire[codec.ordinal()] += wireBytes;
    if (++seen.count >= SAMPLES) {
      seen.decided = Codec.NONE;
      double best = WORTH_IT;
      for (Codec sampled : Codec.values()) {
        long raw = seen.raw[sampled.ordinal()];
        if (raw > 0 && (double) seen.wire[sampled.ordinal()] / raw < best) {
          best = (double) seen.wire[sampled.ordinal()] / raw;
          seen.decided = sampled;
        }
      }
    }
  }
}
