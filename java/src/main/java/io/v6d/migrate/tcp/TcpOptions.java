package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.tls.TlsFiles;

/**
 * Tuning of the TCP transport.
 *
 * @param maxConnections parallel connections for a large object (one per 16 MiB, up to this)
 * @param chunkBytes the size of DATA frames
 * @param tls TLS settings of our end of the agent link ({@link TlsFiles#NONE}: plaintext)
 * @param compression how DATA is compressed on each connection (negotiated when it opens)
 */
public record TcpOptions(int maxConnections, int chunkBytes, TlsFiles tls, Compression compression) {
  public static final TcpOptions DEFAULT = new TcpOptions(4, 4 << 20);

  /** Plaintext. */
  public TcpOptions(int maxConnections, int chunkBytes) {
    this(maxConnections, chunkBytes, TlsFiles.NONE, Compression.NONE);
  }

  /** The same tuning with these TLS settings. */
  public TcpOptions withTls(TlsFiles tls) {
    return new TcpOptions(maxConnections, chunkBytes, tls, compression);
  }

  /** The same tuning with this compression. */
  public TcpOptions withCompression(Compression compression) {
    return new TcpOptions(maxConnections, chunkBytes, tls, compression);
  }

  public TcpOptions {
    compression = compression == null ? Compression.NONE : compression;
    tls = tls == null ? TlsFiles.NONE : tls;
    if (maxConnections < 1 || maxConnections > 64) {
      throw new MigrateException(ErrorCode.INVALID, "connections must be between 1 and 64, not " + maxConnections);
    }
    if (chunkBytes < 4096 || chunkBytes > Pipelines.LIMITS.maxChunkBytes()) {
      throw new MigrateException(ErrorCode.INVALID, "chunk size must be between 4 KiB and 64 MiB, not " + chunkBytes);
    }
  }
}
