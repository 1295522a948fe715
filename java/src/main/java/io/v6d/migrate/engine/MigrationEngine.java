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
  private static final Logger LOG = LoggerFactory.getLogger(MigrationEngine.class);

  /** Concurrent migrations of one object to one target, with the same options, copy it once. */
  private static final SingleFlight<MigrationResult> FLIGHTS = new SingleFlight<>();

  public MigrationResult migrate(MigrationRequest request, ProgressListener progress) {
    if (request.copy()) {
      return migrateOnce(request, progress);
    }
    return FLIGHTS.run(flightKey(request), () -> migrateOnce(request, progress));
  }

  /**
   * Calls share one flight only when they would do the same thing: every option that changes what
   * lands on the target or how it travels (a call with another name, compression, TLS or timeout
   * waits for none of the others).
   */
  static String flightKey(MigrationRequest request) {
    return String.join("\0", request.object(), String.valueOf(request.source()), request.target(),
        String.valueOf(request.name()), String.valueOf(request.overwriteName()), String.valueOf(request.persist()),
        request.transport().name(), String.valueOf(request.tokenFile()), String.valueOf(request.tcp()),
        String.valueOf(request.timeoutMillis()));
  }

  private MigrationResult migrateOnce(MigrationRequest request, ProgressListener progress) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      return new PushMigration(request).run(progress);
    }
    return migrateAll(List.of(request), progress).get(0);
  }

  /**
   * Migrates every object of {@code requests} (one target, the IPC socket of the first) all or
   * nothing: their blobs are allocated and filled and their metadata built in one {@link TargetBuild},
   * committed once when every object is there; when one fails, nothing of the batch is left on the
   * target, and the error names that object. Results are in the order of the requests.
   */
  public List<MigrationResult> migrateMany(List<MigrationRequest> requests, ProgressListener progress) {
    if (requests.isEmpty()) {
      return List.of();
    }
    String target = requests.get(0).target();
    if (requests.stream().anyMatch(r -> !r.target().equals(target))) {
      throw new MigrateException(ErrorCode.INVALID, "a batch goes to one target");
    }
    if (AgentEndpoint.isEndpoint(target)) {
      return new PushMigration(requests).runAll(progress);
    }
    return migrateAll(requests, progress);
  }

  private List<MigrationResult> migrateAll(List<MigrationRequest> requests, ProgressListener progress) {
    MigrationRequest first = requests.get(0);
    Phases phases = new Phases();
    try (ClientPool.Lease lease = ClientPool.current().ipc(first.target(), first.timeoutMillis())) {
      VineyardClient target = lease.client();
      phases.mark("target connection");
      if (ReclaimThrottle.due(target)) {
        TargetBuild.reclaimDeadMigrations(target);
      }
      phases.mark("reclaim check");
      List<MigrationResult> results;
      try (TargetBuild build = new TargetBuild(target);
          CopyClaims claims = new CopyClaims(target, first.timeoutMillis())) {
        results = requests.size() == 1
            ? List.of(copyInto(build, target, claims, requests.get(0), progress, phases, false))
            : BatchMigration.run(target, build, claims, requests, progress);
        EngineCall.checkpoint();
        build.commit();
        phases.mark("commit");
        claims.recordCreated();
        phases.mark("copy record");
        if (build.pinsNothing()) {
          lease.keep();
        }
      }
      phases.mark("close");
      phases.log(requests.size() == 1 ? first.object() : requests.size() + " objects");
      return results;
    }
  }

  /** {@code e} as the failure of object number {@code index} (from 0) of a batch of {@code count}. */
  static MigrateException inBatch(MigrateException e, MigrationRequest request, int index, int count) {
    return new MigrateException(e.code(), "object " + request.object() + " (number " + (index + 1) + " of " + count
        + " in the batch; nothing of the batch is left on the target): " + e.getMessage(), e);
  }

  /** One object into {@code build}: resolve, plan, allocate, transfer, describe (not committed). */
  private static MigrationResult copyInto(TargetBuild build, VineyardClient target, CopyClaims claims,
      MigrationRequest request, ProgressListener progress, Phases phases, boolean byAgent) {
    long started = System.nanoTime();
    try (Prepared prepared = prepare(request, target, claims, phases, byAgent)) {
      long id = prepared.source.objectId();
      if (prepared.source.alreadyOnTarget()) {
        LOG.debug("{} is on {} already", ObjectIds.format(id), request.target());
        return new MigrationResult(id, id, 0, 0, 0, seconds(started), "none");
      }
      if (prepared.earlierCopy != null) {
        long copy = prepared.earlierCopy.id();
        LOG.debug("{} was migrated to {} before, as {}", ObjectIds.format(id), request.target(), ObjectIds.format(copy));
        EarlierCopy.adopt(target, prepared.earlierCopy, request);
        return new MigrationResult(id, copy, 0, 0, 0, seconds(started), "none");
      }
      Map<Long, Long> newBlobIds = new HashMap<>(prepared.reused);
      long base = 0;
      for (Map.Entry<BlobTransport, Map<Long, Long>> entry : prepared.sizes.entrySet()) {
        EngineCall.checkpoint();
        List<Long> sources = new ArrayList<>(entry.getValue().keySet());
        List<Blob> created = build.createBlobs(new ArrayList<>(entry.getValue().values()));
        phases.mark("allocate");
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
        phases.mark("transfer by " + entry.getKey().name());
      }
      EngineCall.checkpoint();
      build.tagRoot(CopyRecords.FIELD, prepared.copyTag);
      long newId;
      try {
        newId = build.add(prepared.source.tree(), newBlobIds, prepared.source::memberOnTarget,
            request.persist(), request.name(), request.overwriteName());
      } catch (MigrateException e) { // vineyardd's refusal names a blob or a member: say whose copy it ended
        throw new MigrateException(e.code(), "the copy of " + ObjectIds.format(id) + " could not be sealed, described"
            + " or persisted on " + request.target() + ": " + e.getMessage(), e);
      }
      phases.mark("seal and describe");
      if (claims != null && !request.copy()) {
        claims.created(prepared.copyTag, newId);
      }
      var first = prepared.sizes.isEmpty() ? null : prepared.sizes.keySet().iterator().next();
      String transport = first == null ? "none" : first.name();
      MigrationResult result = new MigrationResult(id, newId, newBlobIds.size() - prepared.reused.size(),
          prepared.reused.size(), prepared.totalBytes, seconds(started), transport)
          .over(first == null ? null : first.wire());
      LOG.debug("migrated {}", result);
      return result;
    } finally {
      phases.mark("source released");
    }
  }

  /**
   * Migrates one object into {@code build} on {@code target} (this host's vineyardd) as
   * {@link #migrate} would, and leaves it uncommitted: the caller {@link TargetBuild#commit}s or
   * closes the build. The request should ask for a fresh copy ({@code copy}), so that the build
   * owns all it returns. Used for a rebalance's own moves, committed with its new global object.
   */
  public MigrationResult migrateUncommitted(TargetBuild build, VineyardClient target, MigrationRequest request) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      throw new MigrateException(ErrorCode.INVALID, "migrateUncommitted migrates into this host's vineyardd");
    }
    return copyInto(build, target, null, request, ProgressListener.NONE, new Phases(), false);
  }

  /**
   * Pulls one object into {@code build} on {@code target} (this host's vineyardd) and leaves it
   * uncommitted: the caller persists, then {@link TargetBuild#commit}s or closes the build, which
   * frees everything it made. Used by an agent that pulls chunks for a peer's rebalance; the
   * request should ask for a fresh copy ({@code copy}), so that the build owns all it returns.
   * A source agent whose TLS setting differs from the request's is an error here, not a fallback
   * to vineyardd's RPC (see {@link TransportSelector}).
   */
  public MigrationResult pullInto(TargetBuild build, VineyardClient target, MigrationRequest request) {
    if (AgentEndpoint.isEndpoint(request.target())) {
      throw new MigrateException(ErrorCode.INVALID, "pullInto pulls into this host's vineyardd, not into an agent");
    }
    return copyInto(build, target, null, request, ProgressListener.NONE, new Phases(), true);
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
    try (ClientPool.Lease lease = ClientPool.current().ipc(request.target(), request.timeoutMillis());
        Prepared prepared = prepare(request, lease.client(), null, new Phases(), false)) {
      lease.keep(); // a plan takes no blob on the target
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
      var link = prepared.sizes.keySet().stream().map(BlobTransport::wire).filter(java.util.Objects::nonNull)
          .findFirst().orElse(new BlobTransport.Wire(0, "none", false));
      return new MigrationPlan(prepared.source.objectId(), false, blobs, prepared.totalBytes, link.compression(),
          link.tls());
    }
  }

  /**
   * Everything up to the first allocation on the target: source, blobs, their sizes, capacity;
   * for a migration, the earlier copy, found or else claimed ({@code claims}; null for a plan, which
   * looks for none, and for an agent's pull, which records none). {@code byAgent}: an agent pulls for
   * a peer (see {@link #pullInto}).
   */
  private static Prepared prepare(MigrationRequest request, VineyardClient target, CopyClaims claims,
      Phases phases, boolean byAgent) {
    TransportSelector selector = new TransportSelector(request, byAgent);
    Prepared prepared = new Prepared();
    try {
      prepared.source = SourceSet.resolve(request, target, selector);
      phases.mark("resolve");
      SourceSet.refuseStream(prepared.source.tree());
      if (prepared.source.alreadyOnTarget()) {
        return prepared;
      }
      phases.mark("on target?");
      prepared.copyTag = CopyRecords.tag(prepared.source.sourceKey(), prepared.source.tree());
      if (!request.copy() && (claims != null || byAgent)) {
        prepared.earlierCopy = claims == null ? CopyRecords.find(target, prepared.copyTag)
            : claims.find(List.of(prepared.copyTag))[0];
        if (prepared.earlierCopy != null) {
          return prepared;
        }
      }
      phases.mark("copy lookup");
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
      phases.mark("transports");
      for (Map.Entry<BlobTransport, List<Long>> entry : toCopy.entrySet()) {
        Map<Long, Long> blobSizes = entry.getKey().sizes(prepared.source.objectId(), entry.getValue());
        prepared.sizes.put(entry.getKey(), blobSizes);
        prepared.totalBytes = Ranges.add(prepared.totalBytes,
            Ranges.total(blobSizes.values(), ErrorCode.IO_ERROR, () -> "the source's blobs"), () -> "the source's blobs");
      }
      phases.mark("map and size");
      TargetBuild.checkCapacity(target, prepared.totalBytes);
      phases.mark("capacity");
      return prepared;
    } catch (RuntimeException e) {
      prepared.close();
      throw e;
    }
  }

  /** The state {@link #prepare} builds; closing it closes the source side (the target is the caller's). */
  private static final class Prepared implements AutoCloseable {
    SourceSet source;
    final Map<Long, Long> reused = new LinkedHashMap<>();
    final Map<Long, Long> holders = new HashMap<>();
    final Map<BlobTransport, Map<Long, Long>> sizes = new LinkedHashMap<>();
    long totalBytes;
    String copyTag;
    CopyRecords.Found earlierCopy;

    @Override
    public void close() {
      if (source != null) {
        source.close();
      }
    }
  }

  static double seconds(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }
}
