package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What one migration created on its target, recorded on the target itself before it is used, so
 * that whoever outlives the migration's process can undo it ({@link Reclaimer}).
 *
 * <p>The owner holds a lock ({@link OwnerLock}) while it lives. Every allocation is recorded (one
 * journal entry per batch) before a byte is written into it; metadata objects and the name are
 * recorded as they are created. {@link #clear} deletes the journal once the migration committed or
 * was rolled back completely; {@link #close} then removes the lock. A journal closed without being
 * cleared keeps its lock file, unlocked: the next reclaim undoes what it lists.
 *
 * <p>Not thread-safe: the target's connection is used by one thread at a time.
 */
public final class Journal implements AutoCloseable {
  static final String HOST = hostName();

  private final VineyardClient target;
  private final String owner;
  private final OwnerLock lock;
  private final List<Long> entries = new ArrayList<>();
  private boolean cleared;

  private Journal(VineyardClient target, String owner, OwnerLock lock) {
    this.target = target;
    this.owner = owner;
    this.lock = lock;
  }

  /** Starts the journal of a new migration into {@code target}: takes the owner's lock; writes nothing yet. */
  public static Journal open(VineyardClient target) {
    byte[] random = new byte[16];
    ThreadLocalRandom.current().nextBytes(random);
    String owner = HexFormat.of().formatHex(random);
    return new Journal(target, owner, OwnerLock.create(LockDirs.forSocket(target.ipcSocket()), owner));
  }

  public String owner() {
    return owner;
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

  private void record(List<Long> blobs, long bytes, List<Long> objects, String name, long root) {
    ObjectNode content = JournalEntry.content(target.instanceId(), owner, lock.file().toString(), blobs, bytes,
        objects, name, root);
    entries.add(target.createData(content).id());
  }

  /**
   * Deletes the journal: what it lists is either committed or already undone. Throws when vineyardd
   * refuses; the journal then stays, and a migration must not report success.
   */
  public void clear() {
    if (!entries.isEmpty()) {
      target.delete(entries, true, false);
      entries.clear();
    }
    cleared = true;
  }

  /** Releases the lock; the lock file goes too once the journal was cleared, else stays for a reclaimer. */
  @Override
  public void close() {
    if (cleared || entries.isEmpty()) {
      lock.close();
    } else {
      lock.unlockKeepingFile();
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
