package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaRewriter;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.transport.BlobTransfer;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.StreamReader;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards a stream (ByteStream, RecordBatchStream, DataframeStream) chunk by chunk: it creates
 * a stream of the same type and parameters on the target, then, in the background, pulls each
 * chunk from the source as soon as it is produced, copies it (a blob) or migrates it (an object)
 * to the target, and pushes it into the target stream. The source's end ends the target stream;
 * a failed source, or a failure in transit, fails it, so its readers see an error.
 *
 * <p>In-flight memory: chunks forwarded to the target but not yet consumed there are bounded by
 * {@code maxInFlightBytes} (at least one chunk is always allowed); beyond it, forwarding waits.
 */
final class StreamForwarder implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(StreamForwarder.class);

  private final MigrationRequest request;
  private final VineyardClient target;
  /** The target's connection: the target stream lives as long as it, so it is closed, never given back. */
  private final ClientPool.Lease targetLease;
  private final SourceSet source;
  private final BlobTransport transport;
  private final StreamReader reader;
  private final long sourceStream;
  private final long targetStream;
  private final long maxInFlightBytes;
  private final StreamMigration handle;
  /** Chunks pushed to the target stream and their sizes, oldest first, until consumed there. */
  private final Deque<long[]> unconsumed = new ArrayDeque<>();

  private StreamForwarder(MigrationRequest request, ClientPool.Lease targetLease, SourceSet source,
      BlobTransport transport, StreamReader reader, long targetStream, long maxInFlightBytes) {
    this.request = request;
    this.targetLease = targetLease;
    this.target = targetLease.client();
    this.source = source;
    this.transport = transport;
    this.reader = reader;
    this.sourceStream = source.objectId();
    this.targetStream = targetStream;
    this.maxInFlightBytes = maxInFlightBytes;
    this.handle = new StreamMigration(sourceStream, targetStream);
    handle.onCancel(reader::close);
  }

  /** Opens the source stream, creates the target stream, and starts forwarding in the background. */
  static StreamMigration start(MigrationRequest request, long maxInFlightBytes) {
    TransportSelector selector = new TransportSelector(request, false);
    ClientPool.Lease targetLease = ClientPool.current().ipc(request.target(), request.timeoutMillis());
    VineyardClient target = targetLease.client();
    SourceSet source = null;
    StreamReader reader = null;
    try {
      source = SourceSet.resolve(request, target, selector);
      ObjectNode tree = source.tree();
      if (!MetaTree.isStream(tree)) {
        throw new MigrateException(ErrorCode.INVALID,
            ObjectIds.format(source.objectId()) + " is a " + tree.path("typename").asText() + ", not a stream");
      }
      BlobTransport transport = source.transportFor(MetaTree.instanceId(tree));
      reader = transport.openStreamReader();
      reader.open(source.objectId());
      ObjectNode content = new MetaRewriter(Map.of(), target.instanceId(), member -> true, member -> {
        throw new MigrateException(ErrorCode.INVALID, "a stream's metadata has no members to create");
      }).rewriteRoot(tree);
      long targetStream = target.createData(content).id();
      target.streams().create(targetStream);
      target.persist(targetStream);
      target.streams().open(targetStream, true);
      StreamForwarder forwarder = new StreamForwarder(request, targetLease, source, transport, reader, targetStream,
          maxInFlightBytes);
      Thread thread = new Thread(forwarder, "vineyard-migrate-stream-" + ObjectIds.format(targetStream));
      thread.setDaemon(true);
      thread.start();
      return forwarder.handle;
    } catch (RuntimeException e) {
      if (reader != null) {
        reader.close();
      }
      if (source != null) {
        source.close();
      }
      targetLease.close();
      throw e;
    }
  }

  @Override
  public void run() {
    try {
      while (!handle.isDone()) {
        long chunk;
        try {
          chunk = reader.next(sourceStream);
        } catch (MigrateException e) {
          if (e.code() == ErrorCode.STREAM_DRAINED) {
            target.streams().stop(targetStream, false);
            handle.finished();
            return;
          }
          throw e;
        }
        waitForRoom();
        long size = ObjectIds.isBlob(chunk) ? forwardBlob(chunk) : forwardObject(chunk);
        handle.forwarded(size);
      }
    } catch (RuntimeException e) {
      MigrateException error = e instanceof MigrateException m ? m : new MigrateException(ErrorCode.UNKNOWN, e.toString(), e);
      if (error.code() == ErrorCode.STREAM_FAILED) {
        error = new MigrateException(ErrorCode.STREAM_FAILED, "the source stream "
            + ObjectIds.format(sourceStream) + " failed: " + error.getMessage(), error);
      }
      try {
        target.streams().stop(targetStream, true);
      } catch (MigrateException ignored) {
        // already stopped (cancelled): its readers see the failure either way
      }
      handle.failed(error);
      LOG.warn("forwarding stream {} failed: {}", ObjectIds.format(sourceStream), error.getMessage());
    } finally {
      reader.close();
      source.close();
      targetLease.close();
    }
  }

  /** A blob chunk: copied into a new target blob, sealed, pushed. */
  private long forwardBlob(long chunk) {
    long size = transport.sizes(chunk, List.of(chunk)).get(chunk);
    Blob copy = target.createBuffer(size);
    try {
      transport.transfer(List.of(new BlobTransfer(chunk, copy)), ProgressListener.NONE);
      target.seal(copy.id());
    } catch (RuntimeException e) {
      target.dropBuffer(copy.id());
      throw e;
    } finally {
      transport.release(List.of(chunk));
    }
    target.streams().pushNext(targetStream, copy.id());
    target.release(copy.id()); // the stream holds it now, and frees it once it is read
    unconsumed.add(new long[] {copy.id(), size});
    return size;
  }

  /** An object chunk (a RecordBatch, a DataFrame): migrated like any object, then pushed. */
  private long forwardObject(long chunk) {
    MigrationResult result = new MigrationEngine().migrate(
        request.forPart(ObjectIds.format(chunk), transport.endpoint(), false), ProgressListener.NONE);
    target.streams().pushNext(targetStream, result.targetId());
    unconsumed.add(new long[] {result.targetId(), result.bytesCopied()});
    return result.bytesCopied();
  }

  /** Waits while the chunks not yet consumed on the target exceed the in-flight bound. */
  private void waitForRoom() {
    while (true) {
      unconsumed.removeIf(entry -> !existsOnTarget(entry[0]));
      long held = unconsumed.stream().mapToLong(entry -> entry[1]).sum();
      if (unconsumed.size() <= 1 || held < maxInFlightBytes || handle.isDone()) {
        return;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MigrateException(ErrorCode.STREAM_FAILED, "interrupted");
      }
    }
  }

  private boolean existsOnTarget(long id) {
    try {
      target.getData(id, false);
      return true;
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS) {
        return false;
      }
      throw e;
    }
  }
}
