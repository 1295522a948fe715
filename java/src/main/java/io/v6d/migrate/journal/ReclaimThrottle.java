package io.v6d.migrate.journal;

import io.v6d.migrate.ipc.VineyardClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When a migration into an instance reclaims first: a process reclaims each instance at most once
 * every {@value #PROPERTY} seconds (default {@value #DEFAULT_SECONDS}), so that warm, tiny calls are
 * not dominated by it, except that a lock file in the instance's lock directory that this process
 * does not hold (a dead owner's, or another live process's) always lets the reclaim look. A dead
 * owner on another host (whose lock file is not seen here) waits for the period, or for an agent.
 */
public final class ReclaimThrottle {
  public static final String PROPERTY = "io.v6d.migrate.reclaimEverySeconds";
  static final long DEFAULT_SECONDS = 30;
  /**
   * A directory's modification time must be at least this old when it is listed for the listing
   * to stand for it until the time changes: a file created within the file system's clock tick
   * that stamped it would leave the time as it was.
   */
  private static final long SETTLED_MILLIS = 50;
  private static final Map<String, Long> LAST = new ConcurrentHashMap<>();
  /** Lock directories listed without another's lock in them, by the modification time they had. */
  private static final Map<Path, FileTime> QUIET = new ConcurrentHashMap<>();

  private ReclaimThrottle() {}

  /** Whether a migration into {@code target} should reclaim now; if so, counts this as the reclaim. */
  public static boolean due(VineyardClient target) {
    String key = target.ipcSocket() + "#" + target.instanceId();
    long now = System.nanoTime();
    long period = Math.max(0, Long.getLong(PROPERTY, DEFAULT_SECONDS)) * 1_000_000_000L;
    Long last = LAST.get(key);
    if (last != null && now - last < period && !othersIn(LockDirs.forSocket(target.ipcSocket()))) {
      return false;
    }
    LAST.put(key, now);
    return true;
  }

  /**
   * {@link OwnerLock#othersIn}, listing the directory only when it changed since it was last
   * found without others (a stat instead of a listing on warm calls, whose locks are kept).
   */
  private static boolean othersIn(Path dir) {
    FileTime stamp;
    try {
      stamp = Files.getLastModifiedTime(dir);
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      return true; // cannot tell: let the reclaim look
    }
    if (stamp.equals(QUIET.get(dir))) {
      return false;
    }
    boolean others = OwnerLock.othersIn(dir);
    if (!others && stamp.toInstant().isBefore(Instant.now().minusMillis(SETTLED_MILLIS))) {
      QUIET.put(dir, stamp);
    } else {
      QUIET.remove(dir);
    }
    return others;
  }
}
