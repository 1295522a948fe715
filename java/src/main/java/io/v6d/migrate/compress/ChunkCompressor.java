package io.v6d.migrate.compress;

import java.util.HashMap;
import java.util.Map;

/**
 * The sending side's choice per chunk, for one connection. {@code lz4}/{@code zstd}: always (a chunk
 * that does not shrink goes raw). {@code auto}: zstd for the first {@link #SAMPLES} chunks of each
 * blob; if they did not shrink below {@link #WORTH_IT} of their size, the rest of that blob goes raw,
 * so random data pays for a few sampled chunks only. Used on one event loop: not thread-safe.
 */
public final class ChunkCompressor {
  static final int SAMPLES = 2;
  static final double WORTH_IT = 0.9;

  private final Compression compression;
  /** Per blob (wire id): sampled raw and compressed bytes; a negative raw count: decided raw. */
  private final Map<Long, long[]> samples = new HashMap<>();

  public ChunkCompressor(Compression compression) {
    this.compression = compression;
  }

  /** The codec for the next chunk of blob {@code blobId}. */
  public Codec codecFor(long blobId) {
    return switch (compression) {
      case NONE -> Codec.NONE;
      case LZ4 -> Codec.LZ4;
      case ZSTD -> Codec.ZSTD;
      case AUTO -> {
        long[] seen = samples.get(blobId);
        yield seen != null && seen[2] >= SAMPLES && seen[1] > WORTH_IT * seen[0] ? Codec.NONE : Codec.ZSTD;
      }
    };
  }

  /** What compressing a chunk of {@code rawBytes} gave ({@code wireBytes}, raw when it did not shrink). */
  public void sent(long blobId, int rawBytes, int wireBytes) {
    if (compression == Compression.AUTO) {
      long[] seen = samples.computeIfAbsent(blobId, id -> new long[3]);
      seen[0] += rawBytes;
      seen[1] += wireBytes;
      seen[2]++;
    }
  }
}
