package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;

/**
 * Tuning of the TCP transport.
 *
 * @param maxConnections parallel connections for a large object (one per 64 MiB, up to this)
 * @param chunkBytes the size of DATA frames
 */
public record TcpOptions(int maxConnections, int chunkBytes) {
  public static final TcpOptions DEFAULT = new TcpOptions(4, 4 << 20);

  public TcpOptions {
    if (maxConnections < 1 || maxConnections > 64) {
      throw new MigrateException(ErrorCode.INVALID, "connections must be between 1 and 64, not " + maxConnections);
    }
    if (chunkBytes < 4096 || chunkBytes > Pipelines.LIMITS.maxChunkBytes()) {
      throw new MigrateException(ErrorCode.INVALID, "chunk size must be between 4 KiB and 64 MiB, not " + chunkBytes);
    }
  }
}
