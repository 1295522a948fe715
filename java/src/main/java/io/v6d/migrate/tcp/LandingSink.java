package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.ThrottledProgress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * DATA frames of many connections landing in a fixed set of mapped target blobs; done when every
 * expected chunk has landed and passed its CRC. Only ranges inside the given blobs are accepted,
 * and nothing once every chunk has landed (the pull then returns without waiting for the sink's removal).
 */
final class LandingSink implements DataSink {
  private final Map<Long, Blob> destinations;
  private final AtomicInteger chunksLeft;
  private final ThrottledProgress progress;
  private final CompletableFuture<Void> done = new CompletableFuture<>();

  LandingSink(Map<Long, Blob> destinations, int chunks, ThrottledProgress progress) {
    this.destinations = destinations;
    this.chunksLeft = new AtomicInteger(chunks);
    this.progress = progress;
    if (chunks == 0) {
      done.complete(null);
    }
  }

  @Override
  public long destination(long id, long offset, int length) {
    if (chunksLeft.get() <= 0) {
      // every chunk asked for has landed: the blobs may be sealed or freed already
      throw new MigrateException(ErrorCode.IO_ERROR, "DATA for blob " + ObjectIds.format(id) + " after every chunk "
          + "asked for had landed");
    }
    return DataSink.addressIn(destinations, id, offset, length, "what was asked for");
  }

  @Override
  public void landed(long id, long offset, int length) {
    progress.add(length);
    if (chunksLeft.decrementAndGet() == 0) {
      done.complete(null);
    }
  }

  CompletableFuture<Void> done() {
    return done;
  }

  long landedBytes() {
    return progress.done();
  }
}
