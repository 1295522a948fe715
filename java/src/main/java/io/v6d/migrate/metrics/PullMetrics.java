package io.v6d.migrate.metrics;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One agent connection's view of a pull. A pull starts when the peer maps source blobs, and ends
 * when it releases them (unmap: ok) or its connection breaks (failed). Only the puller's first
 * connection releases, so a pull spread over several connections counts once; maps that serve no
 * READ (a dry run) count as none.
 */
public final class PullMetrics {
  private final AtomicLong startedNanos = new AtomicLong(-1);
  private final AtomicLong sentBytes = new AtomicLong();
  private volatile boolean served;

  /** A request from the peer: "map" starts a pull (unless one is under way), "unmap" ends it well. */
  public void request(String op) {
    if (op.equals("map")) {
      startedNanos.compareAndSet(-1, System.nanoTime());
    } else if (op.equals("unmap")) {
      end(true);
    }
  }

  /** Bytes of one DATA frame went to the socket (called on the event loop). */
  public void sent(long bytes) {
    served = true;
    sentBytes.addAndGet(bytes);
    AgentMetrics.sent(bytes);
  }

  /** The connection failed while a pull was under way. */
  public void broken() {
    end(false);
  }

  private void end(boolean ok) {
    long started = startedNanos.getAndSet(-1);
    if (started >= 0 && served) {
      AgentMetrics.migrationServed("pull", ok, started);
    }
    served = false;
  }
}
