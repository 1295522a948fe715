package io.v6d.migrate.tcp;

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
}
