package io.v6d.migrate.compress;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.Locale;

/**
 * What a client asks of a connection: {@code auto} compresses with zstd while it pays (see
 * {@link ChunkCompressor}), {@code lz4} and {@code zstd} always, {@code none} never.
 */
public enum Compression {
  AUTO, LZ4, ZSTD, NONE;

  public static Compression parse(String text) {
    if (text == null || text.isBlank()) {
      return NONE;
    }
    try {
      return valueOf(text.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new MigrateException(ErrorCode.INVALID, "compression must be auto, lz4, zstd or none, not '" + text + "'");
    }
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
