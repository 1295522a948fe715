package io.v6d.migrate.journal;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Owners' locks this process keeps between migrations into one instance, their journals empty. A
 * migration that finds one here journals in it, instead of creating, renaming and removing a lock
 * file of its own (about a quarter of a warm tiny call's engine time). A kept lock stays held, so
 * reclaimers leave it alone; if the process dies, its file holds only a header and the next
 * reclaim removes it. {@link #closeAll} (by {@code vineyard_migrate.close()}, and at the JVM's
 * exit) removes them all.
 *
 * <p>Keyed by the lock directory and the instance (its id and its socket's identity): a vineyardd
 * that restarted gets new owners, whose headers name it.
 */
final class IdleOwners {
  /** Kept per instance: as many as migrations into it that ran at once, up to this. */
  private static final int MAX_PER_INSTANCE = 4;
  private static final Map<Key, Deque<OwnerLock>> IDLE = new HashMap<>();

  static {
    // the command line and the agent exit without calling closeAll: their kept files go here, not
    // with the next reclaim
    Runtime.getRuntime().addShutdownHook(new Thread(IdleOwners::closeAll, "vineyard-migrate-idle-owners"));
  }

  record Key(Path dir, long instanceId, String store) {}

  private IdleOwners() {}

  /** A kept owner's lock for {@code key}, taken out of the pool; null when there is none. */
  static OwnerLock take(Key key) {
    while (true) {
      OwnerLock kept;
      synchronized (IDLE) {
        Deque<OwnerLock> idle = IDLE.get(key);
        kept = idle == null ? null : idle.pollFirst();
      }
      if (kept == null || kept.fileInPlace()) {
        return kept;
      }
      kept.close();  // its file was removed under it: journaling there would record nothing
    }
  }

  /** Keeps the lock of an owner whose journal is empty; closes it instead when {@code key} has enough. */
  static void keep(Key key, OwnerLock kept) {
    synchronized (IDLE) {
      Deque<OwnerLock> idle = IDLE.computeIfAbsent(key, k -> new ArrayDeque<>());
      if (idle.size() < MAX_PER_INSTANCE) {
        idle.addFirst(kept);
        return;
      }
    }
    kept.close();
  }

  /** Removes every kept owner's lock file and releases its lock. */
  static void closeAll() {
    List<OwnerLock> all = new ArrayList<>();
    synchronized (IDLE) {
      IDLE.values().forEach(all::addAll);
      IDLE.clear();
    }
    all.forEach(OwnerLock::close);
  }
}
