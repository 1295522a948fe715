package io.v6d.migrate.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One agent connection's view of a pull. The puller's first connection marks its "map" request
 * {@code "leads": true} (its extra parallel connections do not), so a pull over several connections
 * counts once: from that map to the connection's close (or to the puller's closing "unmap" of a
 * connection it keeps), ok unless the connection broke. A lead
 * connection that served no READ (a dry run) counts as none.
 */
public final class PullMetrics {
  private final AtomicLong startedNanos = new AtomicLong(-1);
  private volatile boolean served;
  private volatile boolean broken;

  /** A request from the peer; a leading "map" (or "meta" that maps) starts a pull (unless one is under way here). */
  public void request(JsonNode request) {
    String op = request.path("op").asText();
    boolean maps = op.equals("map") || op.equals("meta") && request.path("map").asBoolean(false);
    if (maps && request.path("leads").asBoolean(false)) {
      startedNanos.compareAndSet(-1, System.nanoTime());
    }
  }

  /** Bytes of one DATA frame went to the socket (called on the event loop). */
  public void sent(long bytes) {
    served = true;
    AgentMetrics.sent(bytes);
  }

  /** The connection failed (reset, bad frame): a pull under way ends as failed when it closes. */
  public void broken() {
    broken = true;
  }

  /** The connection closed: a pull led by it ends. */
  public void closed() {
    ended();
  }

  /**
   * The puller ended its pull and keeps the connection for the next ("unmap" with "forget", as a
   * pooled client sends it), or the connection closed: a pull led by it ends.
   */
  public void ended() {
    long started = startedNanos.getAndSet(-1);
    if (started >= 0 && served) {
      AgentMetrics.migrationServed("pull", !broken, started);
    }
    served = false;
  }
}
