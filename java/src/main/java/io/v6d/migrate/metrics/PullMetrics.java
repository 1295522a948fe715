package io.v6d.migrate.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One agent connection's view of a pull. The puller's first connection marks its "map" request
 * {@code "leads": true} (its extra parallel connections do not), so a pull over several connections
 * counts once: from that map to the connection's close, ok unless the connection broke. A lead
 * connection that served no READ (a dry run) counts as none.
 */
public final class PullMetrics {
  private final AtomicLong startedNanos = new AtomicLong(-1);
  private volatile boolean served;
  private volatile boolean broken;

  /** A request from the peer; a leading "map" starts a pull (unless one is under way here). */
  public void request(JsonNode request) {
    if (request.path("op").asText().equals("map") && request.path("leads").asBoolean(false)) {
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
    long started = startedNanos.getAndSet(-1);
    if (started >= 0 && served) {
      AgentMetrics.migrationServed("pull", !broken, started);
    }
  }
}
