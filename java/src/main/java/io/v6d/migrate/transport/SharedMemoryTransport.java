package io.v6d.migrate.transport;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.shm.NativeMemory;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Same host: both stores are mapped into this process, so a blob moves with one copy from the
 * source's shared memory into the target's, never through the Java heap.
 */
public final class SharedMemoryTransport implements BlobTransport {
  private final VineyardClient source;
  private final ClientPool.Lease lease;
  private final Map<Long, Blob> mapped = new HashMap<>();

  /** Reads from the leased connection; gives it back on {@link #close()}. */
  public SharedMemoryTransport(ClientPool.Lease lease) {
    this.source = lease.client();
    this.lease = lease;
  }

  @Override
  public Map<Long, Long> sizes(long rootId, Collection<Long> sourceBlobIds) {
    mapped.putAll(source.getBuffers(sourceBlobIds));
    Map<Long, Long> sizes = new LinkedHashMap<>();
    for (long id : sourceBlobIds) {
      sizes.put(id, mapped.get(id).size());
    }
    return sizes;
  }

  /** Every blob in one get_buffers request (shared memory needs no root to permit them). */
  @Override
  public Map<Long, Long> sizesOf(Map<Long, ? extends Collection<Long>> blobsByRoot) {
    java.util.Set<Long> all = new java.util.LinkedHashSet<>();
    blobsByRoot.values().forEach(all::addAll);
    return all.isEmpty() ? new LinkedHashMap<>() : sizes(0, all);
  }

  @Override
  public void transfer(List<BlobTransfer> transfers, ProgressListener progress) {
    long total = transfers.stream().mapToLong(t -> t.target().size()).sum();
    List<ParallelCopy.Segment> segments = new java.util.ArrayList<>();
    for (BlobTransfer transfer : transfers) {
      Blob from = mapped.get(transfer.sourceId());
      if (from == null) {
        from = source.getBuffers(List.of(transfer.sourceId())).get(transfer.sourceId());
      }
      Blob to = transfer.target();
      if (from.size() != to.size()) {
        throw new MigrateException(
            ErrorCode.ASSERTION_FAILED,
            "blob " + ObjectIds.format(from.id()) + " has " + from.size() + " bytes, its copy " + to.size());
      }
      segments.add(new ParallelCopy.Segment(from.address(), to.address(), to.size()));
    }
    long[] done = {0};
    ParallelCopy.copyAll(segments, bytes -> progress.onProgress(done[0] += bytes, total));
  }

  @Override
  public void release(Collection<Long> sourceBlobIds) {
    source.releaseDeferred(sourceBlobIds.stream().filter(id -> mapped.remove(id) != null).toList());
  }

  @Override
  public StreamReader openStreamReader() {
    return new ClientStreamReader(lease.another());
  }

  @Override
  public String endpoint() {
    return source.ipcSocket();
  }

  @Override
  public String name() {
    return "local";
  }

  @Override
  public void close() {
    try {
      // a pooled connection must not keep the source's blobs alive: released, the replies read when
      // the pool next looks at the connection (one that failed has the pool close it)
      source.releaseDeferred(List.copyOf(mapped.keySet()));
      mapped.clear();
      lease.keep();
    } catch (MigrateException e) {
      mapped.clear(); // closing the connection drops the references instead
    } finally {
      lease.close();
    }
  }
}
