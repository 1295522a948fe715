package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.transport.BlobTransfer;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ProgressListener;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Many objects into one {@link TargetBuild}, with the fixed costs paid once per source instance
 * rather than once per object: the objects are grouped by source ({@link SourceGroup}), each
 * group's trees are read in one request and its blobs' sizes in one per transport, the capacity is
 * checked once, every blob of the batch is allocated in one pipelined run, each transport moves all
 * its blobs in one transfer (spread over its connections), and the metadata of all the objects is
 * created level by level together ({@link TargetBuild#addMany}). Not committed: the caller commits
 * once, or the build rolls everything back. Errors that belong to one object name it.
 */
final class BatchMigration {
  private static final Logger LOG = LoggerFactory.getLogger(BatchMigration.class);

  /** One object of the batch as it goes through the steps. */
  private static final class Item {
    final MigrationRequest request;
    final int index;
    SourceGroup group;
    long id;
    ObjectNode tree;
    boolean onTarget;
    CopyRecords.Found earlierCopy;
    String tag;
    final Map<Long, Long> reused = new LinkedHashMap<>();
    /** Source blobs to copy, with the transport that reads each. */
    final Map<Long, BlobTransport> copied = new LinkedHashMap<>();
    long bytes;

    Item(MigrationRequest request, int index) {
      this.request = request;
      this.index = index;
    }
  }

  private final VineyardClient target;
  private final TargetBuild build;
  private final CopyClaims claims;
  private final List<Item> items = new ArrayList<>();

  private BatchMigration(VineyardClient target, TargetBuild build, CopyClaims claims, List<MigrationRequest> requests) {
    this.target = target;
    this.build = build;
    this.claims = claims;
    for (int i = 0; i < requests.size(); i++) {
      items.add(new Item(requests.get(i), i));
    }
  }

  /** Migrates {@code requests} into {@code build} (not committed); results in the order of the requests. */
  static List<MigrationResult> run(VineyardClient target, TargetBuild build, CopyClaims claims,
      List<MigrationRequest> requests, ProgressListener progress) {
    return new BatchMigration(target, build, claims, requests).run(progress);
  }

  private List<MigrationResult> run(ProgressListener progress) {
    long started = System.nanoTime();
    Map<String, SourceGroup> groups = new LinkedHashMap<>();
    try {
      resolve(groups);
      long resolved = System.nanoTime();
      plan();
      Map<BlobTransport, Map<Long, Long>> sizes = sizes(groups.values());
      checkCapacity();
      long planned = System.nanoTime();
      Map<BlobTransport, Map<Long, Blob>> allocated = allocate(sizes);
      long allocatedAt = System.nanoTime();
      transfer(allocated, progress);
      long moved = System.nanoTime();
      List<MigrationResult> results = describe(groups.values(), allocated, started);
      LOG.debug("batch of {} objects from {} sources in {} ms: resolve {}, plan {}, allocate {}, transfer {}, "
          + "describe {}", items.size(), groups.size(), (System.nanoTime() - started) / 1_000_000,
          (resolved - started) / 1_000_000, (planned - resolved) / 1_000_000, (allocatedAt - planned) / 1_000_000,
          (moved - allocatedAt) / 1_000_000, (System.nanoTime() - moved) / 1_000_000);
      return results;
    } finally {
      groups.values().forEach(SourceGroup::close);
    }
  }

  /** Opens each source once, resolves the objects and reads their trees (one request per source). */
  private void resolve(Map<String, SourceGroup> groups) {
    for (Item item : items) {
      String key = String.valueOf(item.request.source());
      SourceGroup group = groups.get(key);
      if (group == null) {
        group = named(item, () -> SourceGroup.open(item.request, target));
        groups.put(key, group);
      }
      item.group = group;
      SourceGroup g = group;
      item.id = named(item, () -> g.resolveId(item.request.object()));
    }
    for (SourceGroup group : groups.values()) {
      Set<Long> ids = idsOf(group);
      try {
        group.readTrees(ids);
      } catch (MigrateException e) {
        throw namedBy(e, items.stream().filter(i -> i.group == group && e.getMessage().contains(ObjectIds.format(i.id)))
            .findFirst().orElse(null));
      }
      Set<Long> there = group.alreadyOnTarget(ids);
      for (Item item : items) {
        if (item.group == group) {
          item.tree = group.tree(item.id);
          item.onTarget = there.contains(item.id);
          named(item, () -> {
            SourceSet.refuseStream(item.tree);
            return null;
          });
        }
      }
    }
  }

  private Set<Long> idsOf(SourceGroup group) {
    Set<Long> ids = new LinkedHashSet<>();
    items.stream().filter(i -> i.group == group).forEach(i -> ids.add(i.id));
    return ids;
  }

  /** Earlier copies (found, else claimed: see {@link CopyClaims}), names, and which blobs each object copies and how. */
  private void plan() {
    List<Item> moving = items.stream().filter(i -> !i.onTarget).toList();
    moving.forEach(i -> i.tag = CopyRecords.tag(i.group.sourceKey(), i.tree));
    List<Item> mayReuse = moving.stream().filter(i -> !i.request.copy()).toList();
    if (!mayReuse.isEmpty()) {
      CopyRecords.Found[] copies = claims.find(mayReuse.stream().map(i -> i.tag).toList());
      for (int k = 0; k < copies.length; k++) {
        mayReuse.get(k).earlierCopy = copies[k];
      }
    }
    for (Item item : moving) {
      if (item.earlierCopy != null) {
        continue;
      }
      named(item, () -> {
        TargetBuild.refuseTakenName(item.request.name(), item.request.overwriteName(), target::getName);
        for (BlobRef blob : MetaTree.blobs(item.tree).values()) {
          if (item.group.onTarget(blob.instanceId())) {
            item.reused.put(blob.id(), blob.id());
          } else {
            item.copied.put(blob.id(), item.group.transportFor(blob.instanceId(), item.id));
          }
        }
        return null;
      });
    }
  }

  /** The sizes of every blob to copy, asked once per transport for all the objects it serves. */
  private Map<BlobTransport, Map<Long, Long>> sizes(java.util.Collection<SourceGroup> groups) {
    Map<BlobTransport, Map<Long, List<Long>>> byRoot = new LinkedHashMap<>();
    for (Item item : items) {
      item.copied.forEach((blob, transport) ->
          byRoot.computeIfAbsent(transport, t -> new LinkedHashMap<>()).computeIfAbsent(item.id, r -> new ArrayList<>()).add(blob));
    }
    Map<BlobTransport, Map<Long, Long>> sizes = new LinkedHashMap<>();
    for (Map.Entry<BlobTransport, Map<Long, List<Long>>> entry : byRoot.entrySet()) {
      EngineCall.checkpoint();
      sizes.put(entry.getKey(), entry.getKey().sizesOf(entry.getValue()));
    }
    for (Item item : items) {
      for (Map.Entry<Long, BlobTransport> blob : item.copied.entrySet()) {
        Long size = sizes.get(blob.getValue()).get(blob.getKey());
        item.bytes = Ranges.add(item.bytes, size, () -> "the blobs of " + ObjectIds.format(item.id));
      }
    }
    return sizes;
  }

  /** One capacity check for the batch; when it fails, the error names the first object that does not fit. */
  private void checkCapacity() {
    long total = 0;
    for (Item item : items) {
      total = Ranges.add(total, item.bytes, () -> "the blobs of the batch");
    }
    try {
      TargetBuild.checkCapacity(target, total);
    } catch (MigrateException e) {
      if (e.code() != ErrorCode.NOT_ENOUGH_MEMORY) {
        throw e;
      }
      JsonNode status = target.instanceStatus();
      long free = status.path("memory_limit").asLong(Long.MAX_VALUE) - status.path("memory_usage").asLong(0);
      long sum = 0;
      for (Item item : items) {
        sum += item.bytes; // no overflow: the total above was checked
        if (sum > free) {
          throw namedBy(new MigrateException(ErrorCode.NOT_ENOUGH_MEMORY, "the batch needs " + total + " bytes, the target "
              + "instance " + target.instanceId() + " (" + target.ipcSocket() + ") has " + free + " free; this object "
              + "is the first that does not fit"), item);
        }
      }
      throw e;
    }
  }

  /**
   * Every blob of the batch allocated in one pipelined run (a blob two objects share, once). When
   * vineyardd refuses one, the error names the object that blob belongs to.
   */
  private Map<BlobTransport, Map<Long, Blob>> allocate(Map<BlobTransport, Map<Long, Long>> sizes) {
    List<Long> order = new ArrayList<>();
    List<Long> lengths = new ArrayList<>();
    List<BlobTransport> via = new ArrayList<>();
    sizes.forEach((transport, blobs) -> blobs.forEach((blob, size) -> {
      order.add(blob);
      lengths.add(size);
      via.add(transport);
    }));
    EngineCall.checkpoint();
    int before = build.allocatedCount();
    List<Blob> created;
    try {
      created = build.createBlobs(lengths);
    } catch (MigrateException e) {
      int failed = Math.min(order.size() - 1, build.allocatedCount() - before);
      long blob = order.get(Math.max(0, failed));
      throw namedBy(e, items.stream().filter(i -> i.copied.containsKey(blob)).findFirst().orElse(null));
    }
    Map<BlobTransport, Map<Long, Blob>> allocated = new LinkedHashMap<>();
    for (int i = 0; i < order.size(); i++) {
      allocated.computeIfAbsent(via.get(i), t -> new LinkedHashMap<>()).put(order.get(i), created.get(i));
    }
    return allocated;
  }

  /** Each transport moves all its blobs in one transfer, over as many connections as it uses. */
  private void transfer(Map<BlobTransport, Map<Long, Blob>> allocated, ProgressListener progress) {
    long total = allocated.values().stream().flatMap(m -> m.values().stream()).mapToLong(Blob::size).sum();
    long base = 0;
    for (Map.Entry<BlobTransport, Map<Long, Blob>> entry : allocated.entrySet()) {
      EngineCall.checkpoint();
      List<BlobTransfer> transfers = new ArrayList<>();
      entry.getValue().forEach((source, blob) -> transfers.add(new BlobTransfer(source, blob)));
      long offset = base;
      long copyStarted = System.nanoTime();
      EngineCall.interruptibly(() ->
          entry.getKey().transfer(transfers, (done, ignored) -> progress.onProgress(offset + done, total)));
      LOG.debug("moved {} blobs of the batch by {} in {} ms", transfers.size(), entry.getKey().name(),
          (System.nanoTime() - copyStarted) / 1_000_000);
      base += transfers.stream().mapToLong(t -> t.target().size()).sum();
    }
  }

  /** The metadata of every object, created together per source; earlier copies adopted. */
  private List<MigrationResult> describe(java.util.Collection<SourceGroup> groups,
      Map<BlobTransport, Map<Long, Blob>> allocated, long started) {
    EngineCall.checkpoint();
    Map<Item, Long> newIds = new HashMap<>();
    for (SourceGroup group : groups) {
      List<Item> created = items.stream().filter(i -> i.group == group && !i.onTarget && i.earlierCopy == null).toList();
      if (created.isEmpty()) {
        continue;
      }
      List<TargetBuild.Root> roots = new ArrayList<>();
      for (Item item : created) {
        Map<Long, Long> blobIds = new HashMap<>(item.reused);
        item.copied.forEach((blob, transport) -> blobIds.put(blob, allocated.get(transport).get(blob).id()));
        roots.add(new TargetBuild.Root(item.tree, blobIds, item.tag, item.request.persist(), item.request.name(),
            item.request.overwriteName()));
      }
      List<Long> ids = build.addMany(roots, CopyRecords.FIELD, group::memberOnTarget);
      for (int k = 0; k < created.size(); k++) {
        newIds.put(created.get(k), ids.get(k));
      }
    }
    Map<BlobTransport, Long> transportBytes = new HashMap<>();
    allocated.forEach((t, blobs) -> transportBytes.put(t, blobs.values().stream().mapToLong(Blob::size).sum()));
    List<MigrationResult> results = new ArrayList<>();
    double seconds = MigrationEngine.seconds(started);
    for (Item item : items) {
      if (item.onTarget) {
        results.add(new MigrationResult(item.id, item.id, 0, 0, 0, seconds, "none"));
      } else if (item.earlierCopy != null) {
        named(item, () -> {
          EarlierCopy.adopt(target, item.earlierCopy, item.request);
          return null;
        });
        results.add(new MigrationResult(item.id, item.earlierCopy.id(), 0, 0, 0, seconds, "none"));
      } else {
        long newId = newIds.get(item);
        if (!item.request.copy()) {
          claims.created(item.tag, newId);
        }
        BlobTransport first = item.copied.isEmpty() ? null : item.copied.values().iterator().next();
        results.add(new MigrationResult(item.id, newId, item.copied.size(), item.reused.size(), item.bytes, seconds,
            first == null ? "none" : first.name()).over(first == null ? null
                : shareOf(first.wire(), item.bytes, transportBytes.get(first))));
      }
    }
    return results;
  }

  /** An object's share of what its transport's link carried for the whole batch: in proportion to its bytes. */
  static BlobTransport.Wire shareOf(BlobTransport.Wire wire, long bytes, long transportBytes) {
    if (wire == null) {
      return null;
    }
    long share = transportBytes <= 0 ? 0 : (long) ((double) wire.bytes() * bytes / transportBytes);
    return new BlobTransport.Wire(share, wire.compression(), wire.tls());
  }

  private <T> T named(Item item, java.util.function.Supplier<T> step) {
    try {
      return step.get();
    } catch (MigrateException e) {
      throw namedBy(e, item);
    }
  }

  /** {@code e} as the object {@code item} (when known) failing the batch. */
  private MigrateException namedBy(MigrateException e, Item item) {
    if (item == null) {
      return new MigrateException(e.code(), "a batch of " + items.size() + " objects failed (nothing of the batch is "
          + "left on the target): " + e.getMessage(), e);
    }
    return MigrationEngine.inBatch(e, item.request, item.index, items.size());
  }
}
