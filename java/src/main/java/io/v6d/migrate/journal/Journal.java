package io.v6d.migrate.journal;

import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What one migration created on its target, recorded beside the target's socket before it is used,
 * so that whoever outlives the migration's process can undo it ({@link Reclaimer}).
 *
 * <p>The owner holds a lock ({@link OwnerLock}) while it lives, and its journal is the lock file
 * itself ({@link JournalFile}): writing an entry is a write(2) to a file, not a request to
 * vineyardd. Every allocation is recorded (one journal entry per batch) before a byte is written
 * into it; metadata objects and the name are recorded as they are created. {@link #clear} empties
 * the journal once the migration committed or was rolled back completely, and the owner's lock is
 * kept, held and empty, for the process's next migration into the same instance ({@link
 * IdleOwners}); {@link #closeIdle} removes the kept ones. A journal closed without being cleared
 * keeps its lock file, unlocked: the next reclaim undoes what it lists.
 *
 * <p>When no lock is kept, the owner's lock file is created in the background ({@link #open}
 * returns at once): the migration's first round trips to its source overlap it, and {@link #ready}
 * waits for it before anything is allocated.
 *
 * <p>Not thread-safe: the target's connection is used by one thread at a time.
 */
public final class Journal implements AutoCloseable {
  static final String HOST = hostName();

  /** Creates owners' lock files off the migrations' threads (a few file system calls each). */
  private static final ExecutorService OPENER = Executors.newCachedThreadPool(work -> {
    Thread thread = new Thread(work, "vineyard-migrate-journal");
    thread.setDaemon(true);
    return thread;
  });

  private final IdleOwners.Key instance;
  private final CompletableFuture<OwnerLock> lock;
  private int entries;
  private boolean cleared;

  private Journal(IdleOwners.Key instance, CompletableFuture<OwnerLock> lock) {
    this.instance = instance;
    this.lock = lock;
  }

  /**
   * Starts the journal of a new migration into {@code target}: in a lock this process kept from an
   * earlier migration into the same instance, or else starts taking a new owner's lock, in the
   * background ({@link #ready}); no entry yet.
   */
  public static Journal open(VineyardClient target) {
    IdleOwners.Key instance = new IdleOwners.Key(LockDirs.forSocket(target.ipcSocket()), target.instanceId(),
        target.storeIdentity());
    OwnerLock kept = IdleOwners.take(instance);
    if (kept != null) {
      return new Journal(instance, CompletableFuture.completedFuture(kept));
    }
    byte[] random = new byte[16];
    ThreadLocalRandom.current().nextBytes(random);
    String owner = HexFormat.of().formatHex(random);
    byte[] header = JournalFile.header(instance.instanceId(), instance.store());
    return new Journal(instance, CompletableFuture.supplyAsync(
        () -> OwnerLock.create(instance.dir(), owner, header), OPENER));
  }

  /** Removes the locks kept between migrations ({@link IdleOwners}); the next migration creates its own. */
  public static void closeIdle() {
    IdleOwners.closeAll();
  }

  /**
   * Waits until the owner's lock is taken and its file written; throws (an IO_ERROR naming the lock
   * directory) when it could not be. Call before allocating anything the journal is to list.
   */
  public void ready() {
    lock();
  }

  private OwnerLock lock() {
    try {
      return lock.join(); // not interruptible: a cancelled migration still rolls back with its journal
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException cause) {
        throw cause;
      }
      throw e;
    }
  }

  /** Records allocated blobs ({@code bytes} in all); call before writing into any of them. */
  public void recordBlobs(List<Long> blobIds, long bytes) {
    List<Long> real = blobIds.stream().filter(id -> !ObjectIds.isEmptyBlob(id)).toList();
    if (!real.isEmpty()) {
      record(real, bytes, List.of(), null, 0);
    }
  }

  /** Records created metadata objects. */
  public void recordObjects(List<Long> objectIds) {
    if (!objectIds.isEmpty()) {
      record(List.of(), 0, objectIds, null, 0);
    }
  }

  /** Records that {@code name} is about to be given to {@code root}; call before putting the name. */
  public void recordName(long root, String name) {
    record(List.of(), 0, List.of(root), name, root);
  }

  /**
   * Records that what this journal lists is committed once {@code global} is persisted linking
   * {@code members} ({@link PreparedCommit}); a reclaim decides a dead owner's journal by it, not
   * before {@code decideAfterMillis} (wall clock; 0 when this process is the one that persists).
   */
  public void recordPrepared(long global, List<Long> members, long decideAfterMillis) {
    lock().append(JournalFile.prepared(global, members, decideAfterMillis));
    entries++;
  }

  private void record(List<Long> blobs, long bytes, List<Long> objects, String name, long root) {
    lock().append(JournalFile.entry(blobs, bytes, objects, name, root));
    entries++;
  }

  /**
   * Empties the journal: what it lists is either committed or already undone. Throws when it
   * cannot; the journal then stays, and a migration must not report success.
   */
  public void clear() {
    if (!cleared) {
      lock().rewind();
      cleared = true;
    }
  }

  /**
   * Keeps the lock for the next migration into the instance when the journal is empty; otherwise
   * releases it and leaves the file, listing what was not cleared, to a reclaimer.
   */
  @Override
  public void close() {
    OwnerLock taken;
    try {
      taken = lock();
    } catch (RuntimeException e) {
      return; // never taken: nothing to release (the failure was reported to whoever waited for it)
    }
    if (cleared || entries == 0) {
      IdleOwners.keep(instance, taken);
    } else {
      taken.unlockKeepingFile();
    }
  }

  private static String hostName() {
    String fromEnv = System.getenv("MY_HOST_NAME");
    if (fromEnv != null && !fromEnv.isBlank()) {
      return fromEnv;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "unknown";
    }
  }
}
