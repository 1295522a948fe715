package io.v6d.migrate.compress;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The sending side's choice per chunk, for one connection. {@code lz4}/{@code zstd}: always (a chunk
 * that does not shrink goes raw). {@code auto}: probes the first {@link #SAMPLES} chunks of each
 * blob -- a few slices of each ({@link #SLICES} of {@link #SLICE_BYTES}), compressed with zstd over
 * shuffled bytes (when the peer decodes the shuffle) and with zstd alone -- then sends the rest of
 * that blob with the codec that shrank its probes most, or raw when none shrank them below
 * {@link #WORTH_IT} of their size. A probed chunk itself goes with its own probe's best codec, or raw;
 * a chunk no larger than a probe is compressed whole instead, and what it gave is the sample.
 * Random data so pays, per blob and connection, probes of 128 KiB of two chunks with each codec
 * (about 0.5 ms of a codec thread per chunk here), and its chunks all go raw (zero-copy);
 * compressing whole 4 MiB chunks as samples, as this did before, cost fresh random blobs 45% of
 * their rate unshaped (each sample compressed, framed off the loop and decompressed again).
 * Called from the codec threads that prepare a connection's frames (not always the same thread).
 */
public final class ChunkCompressor {
  /**
   * The field of the "compression" request and its reply by which each end says it decodes
   * {@link Codec#ZSTD_SHUFFLED} (peers of earlier versions do not, and never get it).
   */
  public static final String DECODES_SHUFFLED = "decodes_zstd_shuffled";
  static final int SAMPLES = 2;
  /** A probe: this many slices spread over the chunk (a chunk this small or smaller: all of it). */
  static final int SLICES = 2;
  static final int SLICE_BYTES = 64 << 10;
  /**
   * Compress a blob only when its samples shrank by a fifth or more: float64 noise shrinks to 0.94
   * with zstd and 0.84 shuffled, and on a link faster than the codec (unshaped, 10 Gbit/s) that
   * saving costs more CPU time than the bytes it saves (measured: auto on noise twice the CPU of
   * none at 0.9, for 16% fewer bytes).
   */
  static final double WORTH_IT = 0.8;
  /** Blobs whose decision is remembered (a pooled connection serves many; the oldest are probed again). */
  static final int REMEMBERED = 4096;

  private final Compression compression;
  private final boolean peerDecodesShuffled;
  /** Per blob (wire id): what its probes gave; least recently used first. */
  private final Map<Long, Samples> samples = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, Samples> eldest) {
      return size() > REMEMBERED;
    }
  };

  /** Per sampled codec, raw and compressed probe bytes; {@code decided} once {@link #SAMPLES} were probed. */
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

  /**
   * Without touching the bytes: the codec for the next chunk of blob {@code blobId} when known --
   * NONE for a blob that goes raw, so its chunks are framed as without compression -- else the
   * codec this blob is probed with ({@link #choose} then decides, on a codec thread).
   */
  public synchronized Codec codecFor(long blobId) {
    return switch (compression) {
      case NONE -> Codec.NONE;
      case LZ4 -> Codec.LZ4;
      case ZSTD -> Codec.ZSTD;
      case AUTO -> {
        Samples seen = samples.get(blobId);
        yield seen != null && seen.decided != null ? seen.decided : candidates()[0];
      }
    };
  }

  /**
   * On a codec thread: the codec for this chunk of {@code length} bytes at {@code address} (NONE:
   * raw). Under auto, a chunk of a blob not decided yet is probed first, outside the lock; a chunk
   * no larger than a probe is not probed but compressed whole with the codec of its turn (zstd
   * shuffled, zstd), and what that gave is the sample ({@link #compressed}): a small blob's only
   * chunk is compressed once, not probed and then compressed.
   */
  public Codec choose(long blobId, long address, int length) {
    if (length == 0) {
      return Codec.NONE;
    }
    if (compression != Compression.AUTO || decided(blobId)) {
      return codecFor(blobId);
    }
    Codec[] candidates = candidates();
    if (length <= SLICES * SLICE_BYTES) {
      return candidates[turn(blobId) % candidates.length];
    }
    long[] raw = new long[candidates.length];
    long[] wire = new long[candidates.length];
    for (int c = 0; c < candidates.length; c++) {
      probe(candidates[c], address, length, raw, wire, c);
    }
    Codec best = Codec.NONE;
    double bestRatio = WORTH_IT;
    for (int c = 0; c < candidates.length; c++) {
      double ratio = (double) wire[c] / raw[c];
      if (ratio < bestRatio) {
        bestRatio = ratio;
        best = candidates[c];
      }
    }
    record(blobId, candidates, raw, wire);
    return best;
  }

  /**
   * What compressing a chunk of {@code rawBytes} with {@code codec} (as {@link #choose} said) gave:
   * {@code wireBytes}, or {@code rawBytes} when it did not shrink and went raw. Under auto, the
   * sample of a blob not decided yet when the chunk was too small to probe.
   */
  public void compressed(long blobId, Codec codec, int rawBytes, int wireBytes) {
    if (compression == Compression.AUTO && codec != Codec.NONE && rawBytes <= SLICES * SLICE_BYTES) {
      record(blobId, new Codec[] {codec}, new long[] {rawBytes}, new long[] {wireBytes});
    }
  }

  private synchronized int turn(long blobId) {
    Samples seen = samples.get(blobId);
    return seen == null ? 0 : seen.count;
  }

  private synchronized boolean decided(long blobId) {
    Samples seen = samples.get(blobId);
    return seen != null && seen.decided != null;
  }

  private Codec[] candidates() {
    return peerDecodesShuffled ? new Codec[] {Codec.ZSTD_SHUFFLED, Codec.ZSTD} : new Codec[] {Codec.ZSTD};
  }

  /**
   * Compresses the probe's slices of the chunk with {@code codec}; adds their sizes at {@code c}.
   * Only for chunks longer than a probe ({@link #choose} compresses shorter ones whole instead).
   */
  private static void probe(Codec codec, long address, int length, long[] raw, long[] wire, int c) {
    long stride = (length - SLICE_BYTES) / (SLICES - 1) & ~7L; // 8-byte aligned: the shuffle's elements
    for (int i = 0; i < SLICES; i++) {
      raw[c] += SLICE_BYTES;
      wire[c] += codec.compressedSize(address + i * stride, SLICE_BYTES);
    }
  }

  private synchronized void record(long blobId, Codec[] candidates, long[] raw, long[] wire) {
    Samples seen = samples.computeIfAbsent(blobId, id -> new Samples());
    if (seen.decided != null) {
      return;
    }
    for (int c = 0; c < candidates.length; c++) {
      seen.raw[candidates[c].ordinal()] += raw[c];
      seen.wire[candidates[c].ordinal()] += wire[c];
    }
    if (++seen.count >= SAMPLES) {
      seen.decided = Codec.NONE;
      double best = WORTH_IT;
      for (Codec sampled : candidates()) {
        long sampledRaw = seen.raw[sampled.ordinal()];
        double ratio = sampledRaw == 0 ? 1 : (double) seen.wire[sampled.ordinal()] / sampledRaw;
        if (ratio < best) {
          best = ratio;
          seen.decided = sampled;
        }
      }
    }
  }
}
