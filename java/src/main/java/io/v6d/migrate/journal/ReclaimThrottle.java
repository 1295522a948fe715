package io.v6d.migrate.journal;

import io.v6d.migrate.ipc.VineyardClient;
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
  private static final Map<String, Long> LAST = new ConcurrentHashMap<>();

  private ReclaimThrottle() {}

  /** Whether a migration into {@code target} should reclaim now; if so, counts this as the reclaim. */
  public static boolean due(VineyardClient target) {
    String key = target.ipcSocket() + "#" + target.instanceId();
    long now = System.nanoTime();
    long period = Math.max(0, Long.getLong(PROPERTY, DEFAULT_SECONDS)) * 1_000_000_000L;
    Long last = LAST.get(key);
    if (last != null && now - last < period && !OwnerLock.othersIn(LockDirs.forSocket(target.ipcSocket()))) {
      return false;
    }
    LAST.put(key, now);
    return true;
  }
}
