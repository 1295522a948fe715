package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.journal.ReclaimThrottle;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
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

  /** Concurrent migrations of one object to one target, with the same options, copy it once. */
  private static final SingleFlight<MigrationResult> FLIGHTS = new SingleFlight<>();

  public MigrationResult migrate(MigrationRequest request, ProgressListener progress) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      return new PushMigration(request).run(progress);
    }
    if (request.copy()) {
      return migrateOnce(request, progress);
    }
    String key = String.join("\0", request.object(), String.valueOf(request.source()), request.target(),
        String.valueOf(request.name()), String.valueOf(request.persist()), request.transport().name());
    return FLIGHTS.run(key, () -> migrateOnce(request, progress));
  }

  private MigrationResult migrateOnce(MigrationRequest request, ProgressListener progress) {
    long started = System.nanoTime();
    try (Prepared prepared = prepare(request, true)) {
      long id = prepared.source.objectId();
      LOG.debug("prepared {} in {} ms", ObjectIds.format(id), (System.nanoTime() - started) / 1_000_000);
      if (prepared.source.alreadyOnTarget()) {
        LOG.debug("{} is on {} already", ObjectIds.format(id), request.target());
        prepared.lease.keep();
        return new MigrationResult(id, id, 0, 0, 0, seconds(started), "none");
      }
      if (prepared.earlierCopy.isPresent()) {
        long copy = prepared.earlierCopy.getAsLong();
        LOG.debug("{} was migrated to {} before, as {}", ObjectIds.format(id), request.target(), ObjectIds.format(copy));
        EarlierCopy.adopt(prepared.target, copy, request);
        prepared.lease.keep();
        return new MigrationResult(id, copy, 0, 0, 0, seconds(started), "none");
      }
      Map<Long, Long> newBlobIds = new HashMap<>(prepared.reused);
      long newId;
      try (TargetBuild build = new TargetBuild(prepared.target)) {
        String recordType = prepared.recordType;
        String sourceKey = prepared.source.sourceKey();
        long targetInstance = prepared.target.instanceId();
        build.recordCopyAs(copy -> CopyRecords.content(recordType, sourceKey, targetInstance, copy));
        long base = 0;
        for (Map.Entry<BlobTransport, Map<Long, Long>> entry : prepared.sizes.entrySet()) {
          EngineCall.checkpoint();
          List<Long> sources = new ArrayList<>(entry.getValue().keySet());
          List<Blob> created = build.createBlobs(new ArrayList<>(entry.getValue().values()));
          List<BlobTransfer> transfers = new ArrayList<>();
          for (int i = 0; i < sources.size(); i++) {
            newBlobIds.put(sources.get(i), created.get(i).id());
            transfers.add(new BlobTransfer(sources.get(i), created.get(i)));
          }
          long offset = base;
          long total = prepared.totalBytes;
          long copyStarted = System.nanoTime();
          EngineCall.interruptibly(() ->
              entry.getKey().transfer(transfers, (done, ignored) -> progress.onProgress(offset + done, total)));
          LOG.debug("moved {} blobs by {} in {} ms", transfers.size(), entry.getKey().name(),
              (System.nanoTime() - copyStarted) / 1_000_000);
          base += transfers.stream().mapToLong(t -> t.target().size()).sum();
        }
        EngineCall.checkpoint();
        newId = build.finish(prepared.source.tree(), newBlobIds, prepared.source::memberOnTarget,
            request.persist(), request.name(), request.overwriteName());
        if (build.pinsNothing()) {
          prepared.lease.keep();
        }
      }
      String transport = prepared.sizes.isEmpty() ? "none" : prepared.sizes.keySet().iterator().next().name();
      MigrationResult result = new MigrationResult(id, newId, newBlobIds.size() - prepared.reused.size(),
          prepared.reused.size(), prepared.totalBytes, seconds(started), transport);
      LOG.debug("migrated {}", result);
      return result;
    } finally {
      LOG.debug("closed after {} ms", (System.nanoTime() - started) / 1_000_000);
    }
  }

  /**
   * Starts forwarding the stream {@code request.object()} to the target: returns at once, with the
   * target stream created, while chunks are forwarded in the background.
   *
   * @param maxInFlightBytes bound on forwarded chunks not yet consumed on the target
   */
  public StreamMigration migrateStream(MigrationRequest request, long maxInFlightBytes) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      throw new MigrateException(io.v6d.migrate.ErrorCode.NOT_IMPLEMENTED,
          "streams are forwarded by the target side: run the migration on the target's host, with the "
              + "source's agent as source (tcp://host:port) or found through the cluster");
    }
    if (maxInFlightBytes <= 0) {
      throw new MigrateException(io.v6d.migrate.ErrorCode.INVALID, "the in-flight bound must be positive");
    }
    return StreamForwarder.start(request, maxInFlightBytes);
  }

  /** What {@link #migrate} would do; connects to everything it would, moves nothing. */
  public MigrationPlan plan(MigrationRequest request) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      return new PushMigration(request).plan();
    }
    try (Prepared prepared = prepare(request, false)) {
      prepared.lease.keep(); // a plan takes no blob on the target
      if (prepared.source.alreadyOnTarget()) {
        return new MigrationPlan(prepared.source.objectId(), true, List.of(), 0);
      }
      List<MigrationPlan.Blob> blobs = new ArrayList<>();
      for (BlobRef blob : MetaTree.blobs(prepared.source.tree()).values()) {
        if (prepared.reused.containsKey(blob.id())) {
          blobs.add(new MigrationPlan.Blob(blob.id(), -1, blob.instanceId(), "reuse", "none"));
        }
      }
      prepared.sizes.forEach((transport, sizes) -> sizes.forEach((id, size) -> blobs.add(
          new MigrationPlan.Blob(id, size, prepared.holders.get(id), "copy", transport.name()))));
      return new MigrationPlan(prepared.source.objectId(), false, blobs, prepared.totalBytes);
    }
  }

  /**
   * Everything up to the first allocation on the target: source, blobs, their sizes, capacity;
   * first, for a migration (not a plan), reclaiming what dead migrations left there.
   */
  private static Prepared prepare(MigrationRequest request, boolean migrating) {
    TransportSelector selector = new TransportSelector(request);
    Prepared prepared = new Prepared(ClientPool.shared().ipc(request.target(), request.timeoutMillis()));
    VineyardClient target = prepared.target;
    try {
      prepared.source = SourceSet.resolve(request, target, selector);
      SourceSet.refuseStream(prepared.source.tree());
      if (prepared.source.alreadyOnTarget()) {
        return prepared;
      }
      prepared.recordType = CopyRecords.typename(prepared.source.sourceKey(), prepared.source.tree());
      if (migrating && !request.copy()) {
        prepared.earlierCopy = CopyRecords.find(target, prepared.recordType, prepared.source.sourceKey());
        if (prepared.earlierCopy.isPresent()) {
          return prepared;
        }
      }
      TargetBuild.refuseTakenName(request.name(), request.overwriteName(), target::getName);
      Map<BlobTransport, List<Long>> toCopy = new LinkedHashMap<>();
      for (BlobRef blob : MetaTree.blobs(prepared.source.tree()).values()) {
        if (prepared.source.onTarget(blob.instanceId())) {
          prepared.reused.put(blob.id(), blob.id());
        } else {
          prepared.holders.put(blob.id(), blob.instanceId());
          toCopy.computeIfAbsent(prepared.source.transportFor(blob.instanceId()), t -> new ArrayList<>()).add(blob.id());
        }
      }
      for (Map.Entry<BlobTransport, List<Long>> entry : toCopy.entrySet()) {
        Map<Long, Long> blobSizes = entry.getKey().sizes(prepared.source.objectId(), entry.getValue());
        prepared.sizes.put(entry.getKey(), blobSizes);
        prepared.totalBytes = Ranges.add(prepared.totalBytes,
            Ranges.total(blobSizes.values(), ErrorCode.IO_ERROR, () -> "the source's blobs"), () -> "the source's blobs");
      }
      if (migrating && ReclaimThrottle.due(target)) {
        TargetBuild.reclaimDeadMigrations(target);
      }
      TargetBuild.checkCapacity(target, prepared.totalBytes);
      return prepared;
    } catch (RuntimeException e) {
      prepared.close();
      throw e;
    }
  }

  /** The state {@link #prepare} builds; closes the source side, then the target connection. */
  private static final class Prepared implements AutoCloseable {
    final ClientPool.Lease lease;
    final VineyardClient target;
    SourceSet source;
    final Map<Long, Long> reused = new LinkedHashMap<>();
    final Map<Long, Long> holders = new HashMap<>();
    final Map<BlobTransport, Map<Long, Long>> sizes = new LinkedHashMap<>();
    long totalBytes;
    String recordType;
    java.util.OptionalLong earlierCopy = java.util.OptionalLong.empty();

    Prepared(ClientPool.Lease lease) {
      this.lease = lease;
      this.target = lease.client();
    }

    @Override
    public void close() {
      try {
        if (source != null) {
          source.close();
        }
      } finally {
        lease.close(); // back to the pool when kept: the migration released what it took
      }
    }
  }

  static double seconds(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }
}
