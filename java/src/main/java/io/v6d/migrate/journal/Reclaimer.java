package io.v6d.migrate.journal;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Undoes what dead migrations left on a target: for each owner's lock file in the target's lock
 * directory whose lock ({@link OwnerLock}) can be taken, deletes the blobs, metadata objects and
 * name its journal lists ({@link JournalFile}), then the lock file -- unless the journal is part of
 * a rebalance whose new global object is persisted with its copies ({@link PreparedCommit}): then it
 * is committed, and only the lock file goes. Owners that live (lock held) are
 * left alone, and so is everything no journal lists. A lock file without a journal in it is an owner
 * of an older version, whose journal is metadata on the target ({@link JournalEntry#list}): only
 * then does a reclaim ask vineyardd for those. Owners whose lock files this process cannot see
 * (another lock directory) are never touched.
 *
 * <p>vineyardd 0.24.2 lets any connection delete any blob by id, sealed or not, and its
 * {@code del_data} with {@code force} also deletes every object that refers to a deleted blob; the
 * empty blob, which every empty buffer shares, is never journaled nor deleted.
 */
public final class Reclaimer {
  private static final Logger LOG = LoggerFactory.getLogger(Reclaimer.class);
  private static final AtomicLong RECLAIMED_ALLOCATIONS = new AtomicLong();
  private static final AtomicLong RECLAIMED_BYTES = new AtomicLong();
  private static final List<Consumer<Reclaimed>> LISTENERS = new CopyOnWriteArrayList<>();

  private Reclaimer() {}

  /** Blobs reclaimed by this process since it started (for a metric). */
  public static long reclaimedAllocations() {
    return RECLAIMED_ALLOCATIONS.get();
  }

  /** Bytes of the blobs reclaimed by this process since it started. */
  public static long reclaimedBytes() {
    return RECLAIMED_BYTES.get();
  }

  /** Calls {@code listener} with every owner reclaimed from now on, in the reclaiming thread. */
  public static void addListener(Consumer<Reclaimed> listener) {
    LISTENERS.add(listener);
  }

  public static void removeListener(Consumer<Reclaimed> listener) {
    LISTENERS.remove(listener);
  }

  /**
   * Reclaims what dead migrations left on {@code target}; no request to vineyardd when there is
   * none (the lock directory is read, not vineyardd).
   */
  public static List<Reclaimed> reclaim(VineyardClient target) {
    Path dir = LockDirs.forSocket(target.ipcSocket());
    List<Reclaimed> reclaimed = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return reclaimed;
    }
    List<JournalEntry> legacy = null;  // listed once, when an owner of an older version is found dead
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        if (name.startsWith(".") && name.endsWith(".new") && isOwnerName(name.substring(1, name.length() - 4))) {
          OwnerLock lock = OwnerLock.takeIfDead(file);  // died before its lock was in place: recorded nothing
          if (lock != null) {
            lock.close();
          }
          continue;
        }
        String owner = name.endsWith(".lock") ? name.substring(0, name.length() - 5) : "";
        if (!isOwnerName(owner) || OwnerLock.heldHere(file)) {
          continue;
        }
        OwnerLock lock = OwnerLock.takeIfDead(file);
        if (lock == null) {
          continue;  // alive, or being reclaimed by another
        }
        try {
          if (!Files.exists(file)) {  // another reclaimer finished this owner while we waited for its lock
            lock.unlockKeepingFile();
            continue;
          }
          Optional<JournalFile> journal = JournalFile.read(file, owner);
          List<JournalEntry> entries;
          if (journal.isPresent()) {
            entries = journal.get().sameInstance(target.instanceId(), target.storeIdentity())
                ? journal.get().entries() : List.of();  // a restarted vineyardd lost all it lists
          } else {
            legacy = legacy != null ? legacy : JournalEntry.list(target);
            entries = legacy.stream().filter(e -> e.owner().equals(owner)).toList();
          }
          PreparedCommit.Decision decision = decide(target, entries, owner);
          if (decision == PreparedCommit.Decision.WAIT) {
            lock.unlockKeepingFile();  // its global object may yet be persisted: a later reclaim decides
            continue;
          }
          if (decision == PreparedCommit.Decision.UNDO && !entries.isEmpty()) {
            reclaimed.add(undo(target, entries));
          }
          lock.close();  // the journal is undone, or committed: the lock file goes
        } catch (IOException | RuntimeException e) {
          lock.unlockKeepingFile();  // the next reclaim tries again
          throw e instanceof RuntimeException r ? r
              : new MigrateException(ErrorCode.IO_ERROR, "cannot read the migration journal " + file + ": " + e);
        }
      }
    } catch (IOException e) {
      LOG.debug("could not read {}: {}", dir, e.toString());
    }
    return reclaimed;
  }

  /**
   * A journal that names a global object (its last such entry) is committed when that object is
   * persisted linking its copies ({@link PreparedCommit}): kept, not undone; until its window has
   * passed, one not persisted yet waits. Every other journal is undone.
   */
  private static PreparedCommit.Decision decide(VineyardClient target, List<JournalEntry> entries, String owner) {
    JournalEntry prepared = null;
    for (JournalEntry entry : entries) {
      if (entry.preparedGlobal() != 0) {
        prepared = entry;
      }
    }
    if (prepared == null) {
      return PreparedCommit.Decision.UNDO;
    }
    PreparedCommit.Decision decision = PreparedCommit.decide(target, prepared);
    if (decision == PreparedCommit.Decision.KEEP) {
      LOG.info("a dead migration (owner {}) on {} is committed: {} is persisted and links its copies {}; kept",
          owner, target.ipcSocket(), PreparedCommit.describe(prepared), prepared.preparedMembers().stream()
              .map(ObjectIds::format).toList());
    }
    return decision;
  }

  private static Reclaimed undo(VineyardClient target, List<JournalEntry> entries) {
    Set<Long> blobs = new LinkedHashSet<>();
    Set<Long> objects = new LinkedHashSet<>();
    List<String> names = new ArrayList<>();
    long bytes = 0;
    for (JournalEntry entry : entries) {
      entry.blobs().stream().filter(id -> ObjectIds.isBlob(id) && !ObjectIds.isEmptyBlob(id)).forEach(blobs::add);
      entry.objects().stream().filter(id -> !ObjectIds.isBlob(id)).forEach(objects::add);
      bytes = Math.addExact(bytes, entry.bytes());
      if (entry.name() != null && nameStillOn(target, entry.name(), entry.root())) {
        target.dropName(entry.name());
        names.add(entry.name());
      }
    }
    if (!objects.isEmpty()) {
      // never deep: members may be another object's, kept in place. Not forced: a persisted copy of a
      // global object's chunk keeps the chunk's signature and vineyardd resolves that global object's
      // member to it here, so a forced delete would take the global object with it. Whatever this
      // leaves (used by an object no journal lists) goes with its blobs below, as before.
      target.delete(objects, false, false);
    }
    if (!blobs.isEmpty()) {
      target.delete(blobs, true, false);  // forced: frees sealed and unsealed blobs, and what refers to them
    }
    List<Long> legacyEntries = entries.stream().map(JournalEntry::id).filter(id -> id != 0).toList();
    if (!legacyEntries.isEmpty()) {
      target.delete(legacyEntries, true, false);
    }
    JournalEntry first = entries.get(0);
    Reclaimed done = new Reclaimed(first.owner(), first.host(), first.pid(), List.copyOf(blobs), bytes,
        List.copyOf(objects), List.copyOf(names));
    RECLAIMED_ALLOCATIONS.addAndGet(blobs.size());
    RECLAIMED_BYTES.addAndGet(bytes);
    LOG.info("reclaimed what a dead migration (owner {}, pid {} on {}) left on {}: {} blobs, {} bytes, {} objects, "
        + "names {}", done.owner(), done.pid(), done.host(), target.ipcSocket(), blobs.size(), bytes, objects.size(),
        names);
    for (Consumer<Reclaimed> listener : LISTENERS) {
      try {
        listener.accept(done);
      } catch (RuntimeException e) {
        LOG.warn("a reclaim listener failed: {}", e.toString());
      }
    }
    return done;
  }

  private static boolean nameStillOn(VineyardClient target, String name, long root) {
    try {
      return target.getName(name) == root;
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS || e.code() == ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        return false;
      }
      throw e;
    }
  }

  private static boolean isOwnerName(String owner) {
    return owner.length() == 32 && owner.chars().allMatch(c -> Character.digit(c, 16) >= 0);
  }
}
