package io.v6d.migrate.compress;

import com.github.luben.zstd.Zstd;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.shm.NativeMemory;
import java.nio.ByteBuffer;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.slf4j.LoggerFactory;

/**
 * How one DATA chunk is compressed on the wire. Every chunk is compressed on its own (decodable
 * without any other), from and into native memory. {@code ZSTD_SHUFFLED} is zstd over the chunk's
 * bytes regrouped by {@link ByteShuffle} (through a scratch buffer of the chunk's size per thread);
 * a peer uses it only when the other end said it decodes it. Decompression is bounded by the chunk's declared
 * size, which the receiver has checked against the target blob before calling: a chunk that
 * expands beyond it, or to less, is an IO_ERROR, never a larger allocation.
 */
public enum Codec {
  NONE(0), LZ4(1), ZSTD(2), ZSTD_SHUFFLED(3);

  /** zstd's fastest regular level: the link, not the ratio, is what it must beat. */
  private static final int ZSTD_LEVEL = 1;

  private final int code;

  Codec(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }

  public static Codec of(int code) {
    for (Codec codec : values()) {
      if (codec.code == code && codec != NONE) {
        return codec;
      }
    }
    throw new MigrateException(ErrorCode.IO_ERROR, "compressed DATA with an unknown codec " + code);
  }

  /** The most bytes {@link #compress} may write for {@code length} bytes. */
  public int maxCompressedLength(int length) {
    return switch (this) {
      case LZ4 -> Lz4.COMPRESSOR.maxCompressedLength(length);
      case ZSTD, ZSTD_SHUFFLED -> Math.toIntExact(Zstd.compressBound(length));
      case NONE -> length;
    };
  }

  /** Compresses {@code length} bytes at {@code address} into {@code out} (direct) at its position; returns the size. */
  public int compress(long address, int length, ByteBuffer out) {
    ByteBuffer in = NativeMemory.view(address, length);
    int at = out.position();
    return switch (this) {
      case LZ4 -> Lz4.COMPRESSOR.compress(in, 0, length, out, at, out.capacity() - at);
      case ZSTD -> Math.toIntExact(Zstd.compressDirectByteBuffer(out, at, out.capacity() - at, in, 0, length, ZSTD_LEVEL));
      case ZSTD_SHUFFLED -> {
        ByteBuffer lanes = Scratch.LANES.of(length);
        ByteShuffle.shuffle(in, lanes, length);
        yield Math.toIntExact(Zstd.compressDirectByteBuffer(out, at, out.capacity() - at, lanes, 0, length, ZSTD_LEVEL));
      }
      case NONE -> throw new IllegalStateException();
    };
  }

  /**
   * What {@link #compress} would make of {@code length} bytes at {@code address}: its size, compressed
   * into a buffer of this thread's (a probe, see {@link ChunkCompressor}; at most a chunk's bound).
   */
  public int compressedSize(long address, int length) {
    return compress(address, length, Scratch.PROBE.of(maxCompressedLength(length)));
  }

  /**
   * Decompresses {@code in} (direct, position to limit) into exactly {@code length} bytes at
   * {@code address}; anything else (a corrupt chunk, a bomb) is an IO_ERROR.
   */
  public void decompress(ByteBuffer in, long address, int length) {
    decompress(in, NativeMemory.view(address, length), length);
  }

  /** The same into {@code target} (direct, from index 0, at least {@code length} bytes). */
  public void decompress(ByteBuffer in, ByteBuffer target, int length) {
    ByteBuffer out = this == ZSTD_SHUFFLED ? Scratch.LANES.of(length) : target; // bounded: the checked declared size
    long produced;
    try {
      produced = switch (this) {
        case LZ4 -> Lz4.DECOMPRESSOR.decompress(in, in.position(), in.remaining(), out, 0, length);
        case ZSTD, ZSTD_SHUFFLED -> {
          long n = Zstd.decompressDirectByteBuffer(out, 0, length, in, in.position(), in.remaining());
          if (Zstd.isError(n)) {
            throw new MigrateException(ErrorCode.IO_ERROR, "corrupt ZSTD chunk: " + Zstd.getErrorName(n));
          }
          yield n;
        }
        case NONE -> throw new IllegalStateException();
      };
    } catch (MigrateException e) {
      throw e;
    } catch (RuntimeException e) { // the libraries' own "corrupt input" and "too large" exceptions
      throw new MigrateException(ErrorCode.IO_ERROR, "corrupt " + this + " chunk: " + e.getMessage());
    }
    if (produced != length) {
      throw new MigrateException(ErrorCode.IO_ERROR, "a " + this + " chunk expanded to " + produced
          + " bytes where it declared " + length);
    }
    if (this == ZSTD_SHUFFLED) {
      ByteShuffle.unshuffle(out, target, length);
    }
  }

  /**
   * A direct buffer of at least {@code length} bytes for this thread (a codec thread's), kept for its
   * next chunk; it grows to the largest chunk the thread handled, at most the chunk limit. LANES
   * holds a chunk's shuffled bytes, PROBE a probe's compressed output.
   */
  private enum Scratch {
    LANES, PROBE;

    private final ThreadLocal<ByteBuffer> buffer = new ThreadLocal<>();

    ByteBuffer of(int length) {
      ByteBuffer held = buffer.get();
      if (held == null || held.capacity() < length) {
        held = ByteBuffer.allocateDirect(length);
        buffer.set(held);
      }
      return held.clear();
    }
  }

  /** Which lz4-java implementation runs: "JNI" (its native library), else a pure-Java one. */
  public static String lz4Implementation() {
    return Lz4.FACTORY.toString().replace("LZ4Factory:", "");
  }

  /** lz4-java's fastest available implementation (JNI, else pure Java), loaded on first use. */
  private static final class Lz4 {
    static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
    static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
    static final LZ4SafeDecompressor DECOMPRESSOR = FACTORY.safeDecompressor();

    static {
      LoggerFactory.getLogger(Codec.class).debug("lz4 uses lz4-java's {} implementation", lz4Implementation());
    }
  }
}
