package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.tcp.AgentEndpoint;
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
 * Migrates one object to a target on this host: collects its blobs, allocates blobs of the same
 * sizes on the target, has the transport of each holder fill them, then seals them and rebuilds
 * the metadata tree ({@link TargetBuild}). A failure at any step leaves the target as it was.
 * A target given as an agent endpoint is pushed to instead ({@link PushMigration}).
 */
public final class MigrationEngine {
  /**
   * Test hook: skip the up-front capacity check so that tests can make vineyardd itself refuse an
   * allocation midway, and see it rolled back.
   */
  static final String SKIP_CAPACITY_CHECK = "io.v6d.migrate.test.skipCapacityCheck";
  private static final Logger LOG = LoggerFactory.getLogger(MigrationEngine.class);

  public MigrationResult migrate(MigrationRequest request, ProgressListener progress) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      return new PushMigration(request).run(progress);
    }
    long started = System.nanoTime();
    TransportSelector selector = new TransportSelector(request.transport(), request.tokenFile(), request.tcp());
    try (VineyardClient target = VineyardClient.connect(request.target());
        SourceSet source = SourceSet.resolve(request, target, selector)) {
      long id = source.objectId();
      if (source.alreadyOnTarget()) {
        LOG.debug("{} is on {} already", ObjectIds.format(id), request.target());
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
      TargetBuild.checkCapacity(target, totalBytes);

      long newId;
      try (TargetBuild build = new TargetBuild(target)) {
        long base = 0;
        for (Map.Entry<BlobTransport, Map<Long, Long>> entry : sizes.entrySet()) {
          List<BlobTransfer> transfers = new ArrayList<>();
          for (Map.Entry<Long, Long> blob : entry.getValue().entrySet()) {
            Blob created = build.createBlob(blob.getValue());
            newBlobIds.put(blob.getKey(), created.id());
            transfers.add(new BlobTransfer(blob.getKey(), created));
          }
          long offset = base;
          long total = totalBytes;
          entry.getKey().transfer(transfers, (done, ignored) -> progress.onProgress(offset + done, total));
          base += transfers.stream().mapToLong(t -> t.target().size()).sum();
        }
        newId = build.finish(tree, newBlobIds, source::memberOnTarget, request.persist(), request.name());
      }
      String transport = toCopy.isEmpty() ? "none" : toCopy.keySet().iterator().next().name();
      MigrationResult result = new MigrationResult(
          id, newId, newBlobIds.size() - reused, reused, totalBytes, seconds(started), transport);
      LOG.debug("migrated {}", result);
      return result;
    }
  }

  static double seconds(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }
}
