package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.CreatedObject;
import io.v6d.migrate.ipc.IpcClient;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaRewriter;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.BlobTransfer;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ProgressListener;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Migrates one object: collects its blobs, allocates blobs of the same sizes on the target, has the
 * transport fill them, seals them, rebuilds the metadata tree on the target, persists and names it.
 * A failure at any step leaves the target as it was (see {@link TargetWriter}).
 */
public final class MigrationEngine {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationEngine.class);
  /**
   * Test hook: skip the up-front capacity check so that tests can make vineyardd itself refuse an
   * allocation midway, and see it rolled back.
   */
  static final String SKIP_CAPACITY_CHECK = "io.v6d.migrate.test.skipCapacityCheck";

  public MigrationResult migrate(MigrationRequest request, ProgressListener progress) {
    long started = System.nanoTime();
    try (IpcClient target = IpcClient.connect(request.targetSocket());
        SourceSet source = SourceSet.resolve(request, target)) {
      long id = source.objectId();
      if (source.alreadyOnTarget()) {
        LOG.debug("{} is on {} already", ObjectIds.format(id), request.targetSocket());
        return new MigrationResult(id, id, 0, 0, 0, seconds(started), "none");
      }
      ObjectNode tree = source.tree();
      Map<Long, Long> newBlobIds = new HashMap<>();
      Map<BlobTransport, List<Long>> toCopy = new LinkedHashMap<>();
      int reused = 0;
      for (BlobRef blob : MetaTree.blobs(tree).values()) {
        if (source.onTarget(blob.instanceId())) {
          newBlobIds.put(blob.id(), blob.id());
          reused++;
        } else {
          toCopy.computeIfAbsent(source.transportFor(blob.instanceId()), t -> new ArrayList<>()).add(blob.id());
        }
      }
      Map<BlobTransport, Map<Long, Long>> sizes = new LinkedHashMap<>();
      long totalBytes = 0;
      for (Map.Entry<BlobTransport, List<Long>> entry : toCopy.entrySet()) {
        Map<Long, Long> blobSizes = entry.getKey().sizes(entry.getValue());
        sizes.put(entry.getKey(), blobSizes);
        totalBytes += blobSizes.values().stream().mapToLong(Long::longValue).sum();
      }
      if (!Boolean.getBoolean(SKIP_CAPACITY_CHECK)) {
        checkCapacity(target, totalBytes);
      }

      long newId;
      String transportName = toCopy.isEmpty() ? "none" : toCopy.keySet().iterator().next().name();
      try (TargetWriter writer = new TargetWriter(target)) {
        long base = 0;
        for (Map.Entry<BlobTransport, Map<Long, Long>> entry : sizes.entrySet()) {
          List<BlobTransfer> transfers = new ArrayList<>();
          for (Map.Entry<Long, Long> blob : entry.getValue().entrySet()) {
            Blob created = writer.createBlob(blob.getValue());
            newBlobIds.put(blob.getKey(), created.id());
            transfers.add(new BlobTransfer(blob.getKey(), created));
          }
          long offset = base;
          long total = totalBytes;
          entry.getKey().transfer(transfers, (done, ignored) -> progress.onProgress(offset + done, total));
          base += transfers.stream().mapToLong(t -> t.target().size()).sum();
        }
        writer.sealAll();
        MetaRewriter rewriter = new MetaRewriter(newBlobIds, target.instanceId(), source::memberOnTarget, content -> {
          CreatedObject member = writer.createObject(content);
          return new MetaRewriter.Created(member.id(), member.signature());
        });
        newId = writer.createObject(rewriter.rewriteRoot(tree)).id();
        if (request.persist()) {
          target.persist(newId);
        }
        if (request.name() != null) {
          target.putName(newId, request.name());
        }
        writer.commit();
      }
      MigrationResult result = new MigrationResult(
          id, newId, newBlobIds.size() - reused, reused, totalBytes, seconds(started), transportName);
      LOG.debug("migrated {}", result);
      return result;
    }
  }

  /** Fails early, before allocating anything, when the target cannot hold the object. */
  private static void checkCapacity(IpcClient target, long needed) {
    JsonNode status = target.instanceStatus();
    long limit = status.path("memory_limit").asLong(Long.MAX_VALUE);
    long used = status.path("memory_usage").asLong(0);
    if (needed > limit - used) {
      throw new MigrateException(ErrorCode.NOT_ENOUGH_MEMORY,
          "target instance " + target.instanceId() + " (" + target.ipcSocket() + ") has " + (limit - used)
              + " bytes free of " + limit + ", the object needs " + needed);
    }
  }

  private static double seconds(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }
}
