package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Map;

/**
 * Where DATA frames land: mapped, unsealed target blobs, looked up by the id the frames carry.
 * Called on the connection's event loop.
 */
public interface DataSink {
  /**
   * The address to write {@code length} bytes of blob {@code id} at {@code offset} to; throws when
   * the peer names a blob or range it was not given.
   */
  long destination(long id, long offset, int length);

  /** The bytes have landed and their CRC32C matched. */
  void landed(long id, long offset, int length);

  /**
   * The address of {@code length} bytes at {@code offset} of blob {@code id}, one of {@code blobs};
   * a blob or range the peer was not given is refused before anything is written.
   */
  static long addressIn(Map<Long, Blob> blobs, long id, long offset, int length, String what) {
    Blob blob = blobs.get(id);
    if (blob == null || !Ranges.inside(offset, length, blob.size())) {
      throw new MigrateException(ErrorCode.IO_ERROR, "DATA for blob " + ObjectIds.format(id) + " at " + offset
          + " (+" + length + ") is not part of " + what);
    }
    return blob.address() + offset;
  }
}
