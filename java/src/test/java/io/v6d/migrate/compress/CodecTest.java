package io.v6d.migrate.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CodecTest {
  private static ByteBuffer direct(byte[] bytes) {
    return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
  }

  private static long address(ByteBuffer buffer) {
    return io.netty.util.internal.PlatformDependent.directBufferAddress(buffer);
  }

  private static byte[] compressible(int n) {
    byte[] bytes = new byte[n];
    for (int i = 0; i < n; i++) {
      bytes[i] = (byte) ("city-" + (i / 64 % 12)).charAt(i % 6);
    }
    return bytes;
  }

  /** Compresses {@code raw}; returns the compressed bytes in a direct buffer (position 0 to limit). */
  private static ByteBuffer compressed(Codec codec, byte[] raw) {
    ByteBuffer in = direct(raw);
    ByteBuffer out = ByteBuffer.allocateDirect(codec.maxCompressedLength(raw.length));
    int n = codec.compress(address(in), raw.length, out);
    return out.limit(n);
  }

  @Test
  void roundTripsAndShrinksCompressibleBytes() {
    for (Codec codec : new Codec[] {Codec.LZ4, Codec.ZSTD, Codec.ZSTD_SHUFFLED}) {
      roundTripsAndShrinksCompressibleBytesWith(codec);
    }
  }

  private static void roundTripsAndShrinksCompressibleBytesWith(Codec codec) {
    byte[] raw = compressible(1 << 20);
    ByteBuffer wire = compressed(codec, raw);
    assertTrue(wire.remaining() < raw.length / 4, codec + " gave " + wire.remaining());
    ByteBuffer out = ByteBuffer.allocateDirect(raw.length);
    codec.decompress(wire, address(out), raw.length);
    byte[] back = new byte[raw.length];
    out.get(back);
    assertArrayEquals(raw, back);
  }

  @Test
  void aChunkExpandingBeyondItsDeclaredSizeIsAnIoError() {
    for (Codec codec : new Codec[] {Codec.LZ4, Codec.ZSTD, Codec.ZSTD_SHUFFLED}) {
      aChunkExpandingBeyondItsDeclaredSizeIsAnIoErrorWith(codec);
    }
  }

  private static void aChunkExpandingBeyondItsDeclaredSizeIsAnIoErrorWith(Codec codec) {
    byte[] raw = compressible(1 << 20);
    ByteBuffer wire = compressed(codec, raw);
    ByteBuffer small = ByteBuffer.allocateDirect(raw.length / 2);
    MigrateException e = assertThrows(MigrateException.class, () -> codec.decompress(wire, address(small), raw.length / 2));
    assertEquals(ErrorCode.IO_ERROR, e.code());
  }

  @Test
  void aChunkShorterThanDeclaredIsAnIoError() {
    for (Codec codec : new Codec[] {Codec.LZ4, Codec.ZSTD, Codec.ZSTD_SHUFFLED}) {
      aChunkShorterThanDeclaredIsAnIoErrorWith(codec);
    }
  }

  private static void aChunkShorterThanDeclaredIsAnIoErrorWith(Codec codec) {
    byte[] raw = compressible(1 << 16);
    ByteBuffer wire = compressed(codec, raw);
    ByteBuffer big = ByteBuffer.allocateDirect(raw.length * 2);
    MigrateException e = assertThrows(MigrateException.class, () -> codec.decompress(wire, address(big), raw.length * 2));
    assertEquals(ErrorCode.IO_ERROR, e.code());
  }

  @Test
  void garbageIsAnIoErrorNotACrash() {
    for (Codec codec : new Codec[] {Codec.LZ4, Codec.ZSTD, Codec.ZSTD_SHUFFLED}) {
      garbageIsAnIoErrorNotACrashWith(codec);
    }
  }

  private static void garbageIsAnIoErrorNotACrashWith(Codec codec) {
    byte[] junk = new byte[4096];
    new Random(7).nextBytes(junk);
    ByteBuffer out = ByteBuffer.allocateDirect(1 << 20);
    MigrateException e = assertThrows(MigrateException.class, () -> codec.decompress(direct(junk), address(out), 1 << 20));
    assertEquals(ErrorCode.IO_ERROR, e.code());
  }

  @Test
  void theShuffleRoundTripsEveryLengthAndShrinksSortedKeys() {
    Random random = new Random(11);
    for (int length : new int[] {0, 1, 7, 8, 9, 63, 64, 65, 8 * 1000 + 5, 1 << 20}) {
      byte[] raw = new byte[length];
      random.nextBytes(raw);
      ByteBuffer lanes = ByteBuffer.allocateDirect(Math.max(1, length));
      ByteShuffle.shuffle(direct(raw), lanes, length);
      int elements = length / ByteShuffle.WIDTH; // lane k holds byte k of every element; the tail stays
      for (int i = 0; i < length; i++) {
        int at = i < elements * ByteShuffle.WIDTH ? (i % ByteShuffle.WIDTH) * elements + i / ByteShuffle.WIDTH : i;
        assertEquals(raw[i], lanes.get(at), "length " + length + " byte " + i);
      }
      ByteBuffer back = ByteBuffer.allocateDirect(Math.max(1, length));
      ByteShuffle.unshuffle(lanes, back, length);
      byte[] got = new byte[length];
      back.get(0, got);
      assertArrayEquals(raw, got, "length " + length);
    }
    ByteBuffer keys = ByteBuffer.allocateDirect(1 << 20).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < (1 << 17); i++) {
      keys.putLong(i * 8, 1_000_000L + i);
    }
    byte[] raw = new byte[1 << 20];
    keys.get(0, raw);
    int plain = compressed(Codec.ZSTD, raw).remaining();
    int shuffled = compressed(Codec.ZSTD_SHUFFLED, raw).remaining();
    assertTrue(shuffled * 4 < plain, "shuffled " + shuffled + " vs plain " + plain);
    ByteBuffer out = ByteBuffer.allocateDirect(raw.length);
    Codec.ZSTD_SHUFFLED.decompress(compressed(Codec.ZSTD_SHUFFLED, raw), address(out), raw.length);
    byte[] back = new byte[raw.length];
    out.get(back);
    assertArrayEquals(raw, back);
  }
}
