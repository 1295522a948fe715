package io.v6d.migrate.engine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wall-clock phases of one migration, logged at debug level: where a warm call's fixed cost goes,
 * including time blocked on a peer (which a sampling profiler does not see).
 */
final class Phases {
  private static final Logger LOG = LoggerFactory.getLogger(Phases.class);
  private final boolean on = LOG.isDebugEnabled();
  private final long started = System.nanoTime();
  private long last = started;
  private final StringBuilder text = new StringBuilder();

  /** Ends phase {@code name} now. */
  void mark(String name) {
    if (!on) {
      return;
    }
    long now = System.nanoTime();
    text.append(name).append(' ').append((now - last) / 1000).append(" us, ");
    last = now;
  }

  /** Logs the phases of the migration of {@code what}. */
  void log(String what) {
    if (on) {
      LOG.debug("phases of {}: {}total {} us", what, text, (System.nanoTime() - started) / 1000);
    }
  }
}
