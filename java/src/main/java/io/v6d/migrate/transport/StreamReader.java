package io.v6d.migrate.transport;

/**
 * Reads the chunk ids of one stream on the instance a transport reaches, on a connection of its
 * own (a pull waits until the writer produces a chunk). Closing it ends the read.
 */
public interface StreamReader extends AutoCloseable {
  void open(long streamId);

  /** The next chunk, a blob or an object; STREAM_DRAINED at the end, STREAM_FAILED if the writer failed. */
  long next(long streamId);

  @Override
  void close();
}
