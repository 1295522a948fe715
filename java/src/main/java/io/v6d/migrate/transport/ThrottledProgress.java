package io.v6d.migrate.transport;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Adds up bytes reported from any thread and tells the listener at most every {@code intervalNanos}
 * (and once at the end). The listeners given from Python are {@link ProgressGauge}s, which only
 * store the numbers: nothing here may call into Python, which could stall an event loop.
 */
public final class ThrottledProgress {
  private final ProgressListener listener;
  private final long total;
  private final long intervalNanos;
  private final AtomicLong done = new AtomicLong();
  private final AtomicLong lastReport = new AtomicLong(System.nanoTime());

  public ThrottledProgress(ProgressListener listener, long total, long intervalNanos) {
    this.listener = listener;
    this.total = total;
    this.intervalNanos = intervalNanos;
  }

  public void add(long bytes) {
    long now = done.addAndGet(bytes);
    long last = lastReport.get();
    long time = System.nanoTime();
    if (now == total || (time - last >= intervalNanos && lastReport.compareAndSet(last, time))) {
      listener.onProgress(now, total);
    }
  }

  public long done() {
    return done.get();
  }
}
