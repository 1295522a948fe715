package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.CreatedObject;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.Journal;
import io.v6d.migrate.journal.Reclaimer;
import io.v6d.migrate.meta.MetaRewriter;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target side of one migration, whichever process runs it (the engine for local and pulled
 * migrations, the agent for pushed ones): allocate blobs, then seal them and rebuild the metadata.
 *
 * <p>Everything created is recorded, so that a migration that fails leaves nothing behind:
 * {@link #close()} before {@link #finish} succeeded deletes the metadata and frees the blobs. It is
 * also recorded on the target, in a {@link Journal}, before it is used, so that what a migration
 * whose process died created is reclaimed by the next one (which reclaims first) or by an agent.
 */
public final class TargetBuild implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TargetBuild.class);

  private final VineyardClient target;
  /** Allocated blobs, in order, with whether each has been sealed. */
  private final Map<Long, Boolean> blobs = new LinkedHashMap<>();
  private final List<Long> objects = new ArrayList<>();
  private final Journal journal;
  private boolean committed;
  private final List<String> names = new ArrayList<>();
  /** A field and value to put in the next root {@link #add} creates (the tag of a copy), or null. */
  private Map.Entry<String, String> rootTag;
  private boolean released;

  /** Starts this migration's journal (call {@link #reclaimDeadMigrations} before). */
  public TargetBuild(VineyardClient target) {
    this.target = target;
    this.journal = Journal.open(target);
  }

  /** Below this, vineyardd's own refusal (rolled back like any failure) is cheaper than asking first. */
  private static final long CAPACITY_CHECK_FROM_BYTES = 16L << 20;
  /**
   * Members created a request: vineyardd's cost of one create_datas grows faster than its size
   * (10,000 members: 2.1 s in one request), so large levels go in slices.
   */
  private static final int CREATE_BATCH = Integer.getInteger("io.v6d.migrate.createBatch", 500);
  /**
   * Blobs allocated between two journal entries: a process killed after vineyardd allocated a blob
   * and before its entry is written leaks it, so the batches are small; each entry costs one request.
   */
  private static final int JOURNAL_BATCH = 256;

  /**
   * Reclaims what dead migrations left on the target (one request when there is none), so that a
   * new migration finds the memory they held free; a failure is logged, never thrown.
   */
  public static void reclaimDeadMigrations(VineyardClient target) {
    try {
      Reclaimer.reclaim(target);
    } catch (RuntimeException e) {
      LOG.warn("could not reclaim what dead migrations left on {}: {}", target.ipcSocket(), e.getMessage());
    }
  }

  /** Fails early, before allocating anything, when the target cannot hold {@code needed} bytes. */
  public static void checkCapacity(VineyardClient target, long needed) {
    if (needed < CAPACITY_CHECK_FROM_BYTES || FaultInjection.installed().skipCapacityCheck()) {
      return;
    }
    JsonNode status = target.instanceStatus();
    long limit = status.path("memory_limit").asLong(Long.MAX_VALUE);
    long used = status.path("memory_usage").asLong(0);
    if (needed > limit - used) {
      throw new MigrateException(ErrorCode.NOT_ENOUGH_MEMORY,
          "target instance " + target.instanceId() + " (" + target.ipcSocket() + ") has " + (limit - used)
              + " bytes free of " + limit + ", the object needs " + needed);
    }
  }

  /**
   * Refuses {@code name} when it names an object on the target already (vineyard's put_name would
   * silently move it), unless {@code overwrite}. {@code lookup} resolves a name on the target and
   * fails with OBJECT_NOT_EXISTS or META_TREE_NAME_NOT_EXISTS when it names nothing.
   */
  public static void refuseTakenName(String name, boolean overwrite, ToLongFunction<String> lookup) {
    if (name == null || overwrite) {
      return;
    }
    long holder;
    try {
      holder = lookup.applyAsLong(name);
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS || e.code() == ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        return;
      }
      throw e;
    }
    throw new MigrateException(ErrorCode.OBJECT_EXISTS, "the name '" + name + "' already names object "
        + ObjectIds.format(holder) + " on the target; pass overwrite_name=True (--overwrite-name) to move it "
        + "to the migrated object, or choose another name");
  }

  /**
   * Allocates many blobs at once (pipelined, in batches); every one created is recorded, here and in
   * the journal, before this returns (and even if a later one fails).
   */
  public List<Blob> createBlobs(List<Long> sizes) {
    journal.ready(); // no allocation before the journal that lists it exists
    List<Blob> created = new ArrayList<>();
    for (int from = 0; from < sizes.size(); from += JOURNAL_BATCH) {
      List<Blob> batch = new ArrayList<>();
      try {
        target.createBuffers(sizes.subList(from, Math.min(sizes.size(), from + JOURNAL_BATCH)), blob -> {
          blobs.put(blob.id(), false);
          batch.add(blob);
        });
      } finally {
        if (!batch.isEmpty()) {
          journal.recordBlobs(batch.stream().map(Blob::id).toList(), batch.stream().mapToLong(Blob::size).sum());
        }
        created.addAll(batch);
      }
    }
    return created;
  }

  /** Blobs allocated so far (to tell which of a run of allocations vineyardd refused). */
  int allocatedCount() {
    return blobs.size();
  }

  /** The next {@link #add} puts {@code field: value} in the root it creates (a copy's tag, see CopyRecords). */
  public void tagRoot(String field, String value) {
    this.rootTag = Map.entry(field, value);
  }

  /**
   * Seals the blobs, rebuilds {@code tree} on the target with the new blob ids (members for which
   * {@code memberOnTarget} holds are kept as they are), persists and names it, and commits; returns
   * its id.
   */
  public long finish(ObjectNode tree, Map<Long, Long> newBlobIds, Predicate<JsonNode> memberOnTarget,
      boolean persist, String name, boolean overwriteName) {
    long id = add(tree, newBlobIds, memberOnTarget, persist, name, overwriteName);
    commit();
    return id;
  }

  /**
   * {@link #finish} without the commit: the object is rolled back with everything else unless
   * {@link #commit} follows (a batch adds many objects, then commits once).
   */
  public long add(ObjectNode tree, Map<Long, Long> newBlobIds, Predicate<JsonNode> memberOnTarget,
      boolean persist, String name, boolean overwriteName) {
    long started = System.nanoTime();
    List<Long> unsealed = sealAndRelease();
    long sealed = System.nanoTime();
    MetaRewriter rewriter = new MetaRewriter(newBlobIds, target.instanceId(), memberOnTarget, this::createMembers);
    ObjectNode root = rewriter.rewriteRoot(tree);
    if (rootTag != null) {
      root.put(rootTag.getKey(), rootTag.getValue());
      rootTag = null;
    }
    long id = createObject(root).id();
    target.completeDeferred(); // a seal that failed fails the migration (the object is recorded: rolled back)
    if (name != null) {
      journal.recordName(id, name);
    } else {
      journal.recordObjects(List.of(id));
    }
    long described = System.nanoTime();
    if (persist) {
      target.persist(id);
    }
    LOG.debug("add: sealed {} blobs in {} ms, metadata {} ms, persist {} ms", unsealed.size(),
        (sealed - started) / 1_000_000, (described - sealed) / 1_000_000, (System.nanoTime() - described) / 1_000_000);
    if (name != null) {
      refuseTakenName(name, overwriteName, target::getName); // again: another client may have taken it meanwhile
      target.putName(id, name);
      names.add(name);
    }
    return id;
  }

  /**
   * Seals the blobs not sealed yet and drops the references sealing gives this connection (a pooled
   * connection must not pin them; a sealed blob stays until deleted): deferred, so that their
   * replies come with the next request's, the metadata that refers to them. Returns those blobs.
   */
  private List<Long> sealAndRelease() {
    List<Long> unsealed = blobs.entrySet().stream().filter(b -> !b.getValue()).map(Map.Entry::getKey).toList();
    target.sealAndReleaseDeferred(unsealed, id -> blobs.put(id, true));
    return unsealed;
  }

  /** Creates members (one level of trees being rebuilt) in slices of {@link #CREATE_BATCH}, each journaled. */
  private List<MetaRewriter.Created> createMembers(List<ObjectNode> contents) {
    List<MetaRewriter.Created> created = new ArrayList<>();
    journal.ready();
    for (int from = 0; from < contents.size(); from += CREATE_BATCH) {
      List<CreatedObject> members = target.createDatas(contents.subList(from, Math.min(contents.size(), from + CREATE_BATCH)));
      members.forEach(member -> objects.add(member.id()));
      journal.recordObjects(members.stream().map(CreatedObject::id).toList());
      members.forEach(m -> created.add(new MetaRewriter.Created(m.id(), m.signature())));
    }
    return created;
  }

  /**
   * One object of {@link #addMany}: its source tree, the new id of each of its source blobs, the
   * copy tag to put in its root (or null), and whether to persist it and what to name it.
   */
  public record Root(ObjectNode tree, Map<Long, Long> blobIds, String tag, boolean persist, String name,
      boolean overwriteName) {}

  /**
   * {@link #add} of many objects (a member two of them share is created once): the members of all
   * of them are created level by level together (roots included), so a thousand objects cost a few
   * create_datas, not a thousand; they are persisted together ({@link PersistCarrier}). Blob ids are unique per instance
   * only (two instances may both have a blob {@code o8...1}), so objects whose blob maps disagree
   * on a source id are rebuilt in separate runs. Tags go in the roots as field {@code tagField}.
   * Not committed. Returns the new ids, in order.
   */
  public List<Long> addMany(List<Root> roots, String tagField, Predicate<JsonNode> memberOnTarget) {
    long started = System.nanoTime();
    List<Long> unsealed = sealAndRelease();
    long sealed = System.nanoTime();
    Long[] ids = new Long[roots.size()];
    for (List<Integer> run : agreeingRuns(roots)) {
      // the run's roots as members of one synthetic parent, which is rewritten but never created
      ObjectNode parent = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
      Map<Long, Long> blobIds = new java.util.HashMap<>();
      for (int i : run) {
        ObjectNode root = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        root.setAll(roots.get(i).tree()); // shallow: the rewriter copies what it changes
        if (roots.get(i).tag() != null) {
          root.put(tagField, roots.get(i).tag());
        }
        parent.set("m" + i, root);
        blobIds.putAll(roots.get(i).blobIds());
      }
      ObjectNode links = new MetaRewriter(blobIds, target.instanceId(), memberOnTarget, this::createMembers)
          .rewriteRoot(parent);
      for (int i : run) {
        ids[i] = ObjectIds.parse(links.path("m" + i).path("id").asText());
      }
    }
    target.completeDeferred();
    long described = System.nanoTime();
    java.util.Set<Long> toPersist = new java.util.LinkedHashSet<>();
    for (int i = 0; i < roots.size(); i++) {
      if (roots.get(i).persist()) {
        toPersist.add(ids[i]);
      }
    }
    PersistCarrier.persistAll(target, new ArrayList<>(toPersist), carrier -> {
      objects.add(carrier);
      journal.recordObjects(List.of(carrier));
    });
    for (int i = 0; i < roots.size(); i++) {
      Root root = roots.get(i);
      if (root.name() != null) {
        journal.recordName(ids[i], root.name());
        refuseTakenName(root.name(), root.overwriteName(), target::getName);
        target.putName(ids[i], root.name());
        names.add(root.name());
      }
    }
    LOG.debug("addMany: {} objects, sealed {} blobs in {} ms, metadata {} ms, persist and names {} ms", roots.size(),
        unsealed.size(), (sealed - started) / 1_000_000, (described - sealed) / 1_000_000,
        (System.nanoTime() - described) / 1_000_000);
    return List.of(ids);
  }

  /** The roots in runs whose blob maps agree (no source id mapped two ways), first fit, in order. */
  static List<List<Integer>> agreeingRuns(List<Root> roots) {
    List<List<Integer>> runs = new ArrayList<>();
    List<Map<Long, Long>> merged = new ArrayList<>();
    for (int i = 0; i < roots.size(); i++) {
      Map<Long, Long> own = roots.get(i).blobIds();
      int fit = -1;
      for (int r = 0; r < runs.size() && fit == -1; r++) {
        Map<Long, Long> run = merged.get(r);
        if (own.entrySet().stream().allMatch(e -> e.getValue().equals(run.getOrDefault(e.getKey(), e.getValue())))) {
          fit = r;
        }
      }
      if (fit == -1) {
        runs.add(new ArrayList<>());
        merged.add(new java.util.HashMap<>());
        fit = runs.size() - 1;
      }
      runs.get(fit).add(i);
      merged.get(fit).putAll(own);
    }
    return runs;
  }

  /**
   * Journals that this build is committed once {@code global} is persisted linking {@code copies}
   * (a rebalance's new global object): a reclaim after this process died keeps it then
   * ({@link io.v6d.migrate.journal.PreparedCommit}), not before {@code decideAfterMillis}.
   */
  public void prepare(long global, List<Long> copies, long decideAfterMillis) {
    journal.recordPrepared(global, copies, decideAfterMillis);
  }

  /** The commit point: from here on what was added is the caller's. */
  public void commit() {
    target.completeDeferred(); // every seal succeeded before the journal goes
    journal.clear();
    committed = true;
    released = !target.mayPin(); // the releases sent with the seals (see sealAndRelease) all succeeded
    if (!released) {
      LOG.debug("could not release the new blobs on {}; its connection is closed instead", target.ipcSocket());
    }
  }

  /**
   * Whether the connection holds no reference this build took: the build committed and released
   * its blobs. Otherwise the caller closes the connection (vineyardd then drops them all).
   */
  public boolean pinsNothing() {
    return released;
  }

  private CreatedObject createObject(ObjectNode content) {
    journal.ready(); // nothing is created before the journal that lists it exists
    CreatedObject created = target.createData(content);
    objects.add(created.id());
    return created;
  }

  /** Undoes what was created unless finished; reports (never throws) what could not be undone. */
  @Override
  public void close() {
    try {
      rollBackUnlessCommitted();
    } finally {
      journal.close();
    }
  }

  private void rollBackUnlessCommitted() {
    if (committed) {
      return;
    }
    List<String> failures = new ArrayList<>();
    attempt("seal", target::completeDeferred); // which blobs were sealed: known from here (a failure was thrown)
    for (String name : names) {
      failures.addAll(attempt("name '" + name + "'", () -> target.dropName(name)));
    }
    for (int i = objects.size() - 1; i >= 0; i--) {
      long id = objects.get(i);
      // Not forced (as in the Reclaimer): a persisted copy of a global object's chunk shares that chunk's
      // signature, and a forced delete would follow it up to the original global object. Roots go first,
      // so nothing of ours depends on what is deleted; the blobs below take whatever is left.
      failures.addAll(attempt("object " + ObjectIds.format(id), () -> target.delete(List.of(id), false, false)));
    }
    for (Map.Entry<Long, Boolean> blob : blobs.entrySet()) {
      long id = blob.getKey();
      boolean sealed = blob.getValue();
      failures.addAll(attempt("blob " + ObjectIds.format(id), () -> {
        if (sealed) {
          target.delete(List.of(id), true, false);
        } else {
          target.dropBuffer(id);
        }
      }));
    }
    if (!failures.isEmpty()) {
      LOG.warn("rolling back a failed migration left {} on {} (its journal stays: a reclaim retries)", failures,
          target.ipcSocket());
      return;
    }
    failures.addAll(attempt("journal", journal::clear));
    if (!failures.isEmpty()) {
      LOG.warn("rolling back a failed migration could not delete its journal on {}: {}", target.ipcSocket(), failures);
    }
  }

  private static List<String> attempt(String what, Runnable undo) {
    try {
      undo.run();
      return List.of();
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS) {
        return List.of();
      }
      return List.of(what + " (" + e.getMessage() + ")");
    }
  }
}
