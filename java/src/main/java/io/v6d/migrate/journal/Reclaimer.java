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
 * Undoes what dead migrations left on a target: for each owner found in the target's journal whose
 * lock ({@link OwnerLock}) can be taken, deletes the blobs, metadata objects and name it lists,
 * then the journal and the lock file. Owners that live (lock held), and owners whose lock file this
 * process cannot see, are left alone, and so is everything no journal lists.
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

  /** Reclaims what dead migrations left on {@code target}; one list request when there is none. */
  public static List<Reclaimed> reclaim(VineyardClient target) {
    Path dir = LockDirs.forSocket(target.ipcSocket());
    Set<String> owners = new LinkedHashSet<>();
    JournalEntry.list(target).forEach(e -> owners.add(e.owner()));
    List<Reclaimed> reclaimed = new ArrayList<>();
    for (String owner : owners) {
      if (isOwnerName(owner)) {
        reclaimOwner(target, OwnerLock.fileOf(dir, owner), owner).ifPresent(reclaimed::add);
      }
    }
    sweepLockFiles(target, dir, owners).forEach(reclaimed::add);
    return reclaimed;
  }

  private static Optional<Reclaimed> reclaimOwner(VineyardClient target, Path lockFile, String owner) {
    OwnerLock lock = OwnerLock.takeIfDead(lockFile);
    if (lock == null) {
      if (!Files.exists(lockFile)
          && JournalEntry.list(target).stream().anyMatch(e -> e.owner().equals(owner))) {  // not just finished
        LOG.warn("the journal of migration {} on {} has no lock file {}: left alone (its owner locks elsewhere: "
            + "give every process that migrates into this vineyardd the same {})", owner, target.ipcSocket(),
            lockFile, LockDirs.ENV);
      }
      return Optional.empty();  // alive, or being reclaimed by another
    }
    try {
      // read again under the lock: another reclaimer may have finished this owner meanwhile
      List<JournalEntry> entries = JournalEntry.list(target).stream().filter(e -> e.owner().equals(owner)).toList();
      Optional<Reclaimed> done = entries.isEmpty() ? Optional.empty() : Optional.of(undo(target, entries));
      lock.close();  // the journal is gone: the lock file goes
      return done;
    } catch (RuntimeException e) {
      lock.unlockKeepingFile();  // the next reclaim tries again
      throw e;
    }
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
    target.delete(entries.stream().map(JournalEntry::id).toList(), true, false);
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

  /**
   * Removes lock files of dead owners that had no journal entry when the journal was listed (killed
   * before recording anything, or started after the listing), reclaiming what they recorded
   * meanwhile, and leftovers of interrupted lock creations. A file goes only while we hold its lock.
   */
  private static List<Reclaimed> sweepLockFiles(VineyardClient target, Path dir, Set<String> listed) {
    List<Reclaimed> reclaimed = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return reclaimed;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        if (name.startsWith(".") && name.endsWith(".new") && isOwnerName(name.substring(1, name.length() - 4))) {
          OwnerLock lock = OwnerLock.takeIfDead(file);  // died before its lock was in place: recorded nothing
          if (lock != null) {
            lock.close();
          }
        } else if (name.endsWith(".lock")) {
          String owner = name.substring(0, name.length() - 5);
          if (isOwnerName(owner) && !listed.contains(owner)) {
            reclaimOwner(target, file, owner).ifPresent(reclaimed::add);
          }
        }
      }
    } catch (IOException e) {
      LOG.debug("could not sweep {}: {}", dir, e.toString());
    }
    return reclaimed;
  }

  private static boolean isOwnerName(String owner) {
    return owner.length() == 32 && owner.chars().allMatch(c -> Character.digit(c, 16) >= 0);
  }
}
