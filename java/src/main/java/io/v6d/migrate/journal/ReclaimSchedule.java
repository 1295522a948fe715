package io.v6d.migrate.journal;

import io.v6d.migrate.ipc.VineyardClient;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An agent's reclaims of its vineyardd: one when it starts (before it serves), then one every
 * {@value #PERIOD_PROPERTY} seconds (default {@value #DEFAULT_PERIOD_SECONDS}) on a thread of its
 * own, each on a connection of its own. Failures are logged; the next run tries again.
 */
public final class ReclaimSchedule implements AutoCloseable {
  public static final String PERIOD_PROPERTY = "io.v6d.migrate.reclaimSeconds";
  static final long DEFAULT_PERIOD_SECONDS = 60;
  private static final Logger LOG = LoggerFactory.getLogger(ReclaimSchedule.class);

  private final String socket;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
    Thread thread = new Thread(runnable, "vineyard-migrate-reclaim");
    thread.setDaemon(true);
    return thread;
  });

  private ReclaimSchedule(String socket) {
    this.socket = socket;
  }

  public static ReclaimSchedule start(String socket) {
    ReclaimSchedule schedule = new ReclaimSchedule(socket);
    schedule.runOnce();
    long period = Math.max(1, Long.getLong(PERIOD_PROPERTY, DEFAULT_PERIOD_SECONDS));
    schedule.timer.scheduleWithFixedDelay(schedule::runOnce, period, period, TimeUnit.SECONDS);
    return schedule;
  }

  private void runOnce() {
    // the agent's own connection, opened and closed here each run (a minute apart): the caller's
    // pool (io.v6d.migrate.pool.ClientPool) owns the engine's connections, not the agent's
    try (VineyardClient target = VineyardClient.connect(socket)) {
      List<Reclaimed> reclaimed = Reclaimer.reclaim(target);
      if (!reclaimed.isEmpty()) {
        LOG.info("reclaimed {} dead migration(s) on {}", reclaimed.size(), socket);
      }
    } catch (RuntimeException e) {
      LOG.warn("reclaiming dead migrations on {} failed: {}", socket, e.getMessage());
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
