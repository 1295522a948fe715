package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.meta.ObjectIds;

/** vineyardd's stream requests ({@code src/server/memory/stream_store.cc}), on one connection. */
public final class StreamRequests {
  private final FramedConnection connection;
  private final Runnable checkAlive;

  StreamRequests(FramedConnection connection, Runnable checkAlive) {
    this.connection = connection;
    this.checkAlive = checkAlive;
  }

  /** Makes the object {@code streamId} (its metadata created already) a stream. */
  public void create(long streamId) {
    ObjectNode request = FrameCodec.newMessage("create_stream_request");
    JsonIds.put(request, "object_id", streamId);
    connection.call(request, "create_stream_reply");
  }

  /** Opens a stream for reading ({@code write=false}) or writing; one reader and one writer at a time. */
  public void open(long streamId, boolean write) {
    ObjectNode request = FrameCodec.newMessage("open_stream_request").put("mode", write ? 2 : 1);
    JsonIds.put(request, "object_id", streamId);
    connection.call(request, "open_stream_reply");
  }

  /**
   * The next chunk of a stream (a blob or an object id), waiting until the writer produces one.
   * The end of the stream is a STREAM_DRAINED error, a failed writer STREAM_FAILED. vineyardd deletes
   * the previous chunk when the next one is pulled.
   *
   * <p>The wait is as long as the writer takes (a producer may legitimately be slow), but not
   * blind: each time vineyardd has been silent for the timeout, a request on a connection of its
   * own must be answered, or the wait fails with CONNECTION_ERROR (vineyardd stopped or gone).
   */
  public long pullNext(long streamId) {
    ObjectNode request = FrameCodec.newMessage("pull_next_stream_chunk_request");
    JsonIds.put(request, "id", streamId);
    return connection.callWaiting(request, "pull_next_stream_chunk_reply", () -> {
      try {
        checkAlive.run();
      } catch (MigrateException e) {
        throw new MigrateException(ErrorCode.CONNECTION_ERROR, "waiting for the next chunk of stream "
            + ObjectIds.format(streamId) + " on vineyardd at " + connection.peer() + ": it stopped answering ("
            + e.getMessage() + ")", e);
      }
    }).path("chunk").longValue();
  }

  /** Appends a sealed blob or an object to a stream; readers see it at once. */
  public void pushNext(long streamId, long chunkId) {
    ObjectNode request = FrameCodec.newMessage("push_next_stream_chunk_request");
    JsonIds.put(request, "id", streamId);
    JsonIds.put(request, "chunk", chunkId);
    connection.call(request, "push_next_stream_chunk_reply");
  }

  /** Ends a stream: drained for its readers, or failed. */
  public void stop(long streamId, boolean failed) {
    ObjectNode request = FrameCodec.newMessage("stop_stream_request").put("failed", failed);
    JsonIds.put(request, "id", streamId);
    connection.call(request, "stop_stream_reply");
  }
}
