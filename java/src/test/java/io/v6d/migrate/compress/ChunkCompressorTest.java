package io.v6d.migrate.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.util.internal.PlatformDependent;
import io.v6d.migrate.MigrateException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** auto's choice per chunk: probes of the first chunks of each blob decide the rest. */
class ChunkCompressorTest {
  private static final int CHUNK = 4 << 20;
  // held for the whole class: the probes read them by address (a collected buffer's memory is freed)
  private static final ByteBuffer NOISE = noise(CHUNK);
  private static final ByteBuffer NAMES = names(CHUNK);
  private static final ByteBuffer KEYS = sortedKeys(CHUNK);

  private static ByteBuffer noise(int n) {
    byte[] bytes = new byte[n];
    new Random(3).nextBytes(bytes);
    return ByteBuffer.allocateDirect(n).put(bytes).flip();
  }

  /** Repeated short names: zstd shrinks them well, the shuffle does not help. */
  private static ByteBuffer names(int n) {
    ByteBuffer out = ByteBuffer.allocateDirect(n);
    for (int i = 0; i < n; i++) {
      out.put(i, (byte) ("city-" + (i / 64 % 12)).charAt(i % 6));
    }
    return out;
  }

  /** Sorted int64 keys: the shuffle shrinks them far better than zstd alone. */
  private static ByteBuffer sortedKeys(int n) {
    ByteBuffer out = ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i + 8 <= n; i += 8) {
      out.putLong(i, 1_000_000_007L + i / 8);
    }
    return out;
  }

  private static long address(ByteBuffer buffer) {
    return PlatformDependent.directBufferAddress(buffer);
  }

  @Test
  void autoSendsRawABlobWhoseProbesDidNotShrinkAndCompressesOneWhoseDid() {
    ChunkCompressor auto = new ChunkCompressor(Compression.AUTO);
    long noise = address(NOISE);
    long names = address(NAMES);
    for (int i = 0; i < ChunkCompressor.SAMPLES; i++) {
      assertEquals(Codec.ZSTD, auto.codecFor(1), "not decided yet: probed on a codec thread");
      assertEquals(Codec.NONE, auto.choose(1, noise, CHUNK), "a probed chunk of noise goes raw itself");
      assertEquals(Codec.ZSTD, auto.choose(2, names, CHUNK));
    }
    assertEquals(Codec.NONE, auto.codecFor(1));
    assertEquals(Codec.ZSTD, auto.codecFor(2));
    // decided: the rest of each blob goes as decided, whatever its bytes
    assertEquals(Codec.NONE, auto.choose(1, names, CHUNK));
    assertEquals(Codec.ZSTD, auto.choose(2, noise, CHUNK));
    assertEquals(Codec.NONE, auto.choose(2, names, 0), "an empty chunk is never compressed");
    // a chunk no larger than a probe is not probed: compressed whole, what it gave is the sample
    for (int i = 0; i < ChunkCompressor.SAMPLES; i++) {
      assertEquals(Codec.ZSTD, auto.choose(3, noise, 1000));
      auto.compressed(3, Codec.ZSTD, 1000, 1000);
      assertEquals(Codec.ZSTD, auto.choose(4, names, 1000));
      auto.compressed(4, Codec.ZSTD, 1000, 100);
    }
    assertEquals(Codec.NONE, auto.codecFor(3));
    assertEquals(Codec.ZSTD, auto.codecFor(4));
    assertThrows(MigrateException.class, () -> Compression.parse("gzip"));
  }

  @Test
  void autoProbesShuffledAndPlainZstdAndKeepsTheSmaller() {
    ChunkCompressor auto = new ChunkCompressor(Compression.AUTO, true);
    long keys = address(KEYS);
    long names = address(NAMES);
    assertEquals(Codec.ZSTD_SHUFFLED, auto.codecFor(1));
    for (int i = 0; i < ChunkCompressor.SAMPLES; i++) {
      assertEquals(Codec.ZSTD_SHUFFLED, auto.choose(1, keys, CHUNK));
      assertEquals(Codec.ZSTD, auto.choose(2, names, CHUNK));
    }
    assertEquals(Codec.ZSTD_SHUFFLED, auto.codecFor(1));
    assertEquals(Codec.ZSTD, auto.codecFor(2));
    // small chunks: zstd shuffled, then zstd alone, and the smaller stays
    assertEquals(Codec.ZSTD_SHUFFLED, auto.choose(3, keys, 1000));
    auto.compressed(3, Codec.ZSTD_SHUFFLED, 1000, 700);
    assertEquals(Codec.ZSTD, auto.choose(3, keys, 1000));
    auto.compressed(3, Codec.ZSTD, 1000, 400);
    assertEquals(Codec.ZSTD, auto.codecFor(3));
    // a peer that does not decode the shuffle never gets it
    ChunkCompressor older = new ChunkCompressor(Compression.AUTO, false);
    for (int i = 0; i < ChunkCompressor.SAMPLES; i++) {
      assertEquals(Codec.ZSTD, older.choose(1, keys, CHUNK));
    }
    assertEquals(Codec.ZSTD, older.codecFor(1));
  }

  @Test
  void fixedModesNeverProbeAndDecisionsAreRememberedForABoundedNumberOfBlobs() {
    long noise = address(NOISE);
    assertEquals(Codec.LZ4, new ChunkCompressor(Compression.LZ4).choose(1, noise, 1000));
    assertEquals(Codec.ZSTD, new ChunkCompressor(Compression.ZSTD).choose(1, noise, 1000));
    assertEquals(Codec.NONE, new ChunkCompressor(Compression.NONE).choose(1, noise, 1000));
    ChunkCompressor auto = new ChunkCompressor(Compression.AUTO);
    for (long blob = 0; blob <= ChunkCompressor.REMEMBERED; blob++) {
      for (int i = 0; i < ChunkCompressor.SAMPLES; i++) {
        auto.compressed(blob, auto.choose(blob, noise, 1000), 1000, 1000);
      }
    }
    assertEquals(Codec.NONE, auto.codecFor(ChunkCompressor.REMEMBERED));
    assertEquals(Codec.ZSTD, auto.codecFor(0), "the oldest decision was forgotten: the blob is probed again");
  }
}
