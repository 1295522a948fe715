package io.v6d.migrate.transport;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Adds up bytes reported from any thread and tells the listener at most every {@code intervalNanos}
 * (and once at the end), so a slow listener (a Python progress bar) never slows the copy.
 *
 * <p>The listener is never called on the reporting thread, which may be one of Netty's event loops:
 * a Python listener needs the GIL, and a busy Python thread would stall every transfer on that loop.
 * Reports are handed to one daemon thread for the whole process, which tells each listener the
 * latest figure (reports that pile up are coalesced), one at a time.
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

  private static final java.util.concurrent.ExecutorService DELIVERY =
      java.util.concurrent.Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "vineyard-migrate-progress");
        thread.setDaemon(true);
        return thread;
      });
  /** The figure to tell next, or -1 when a delivery already told the latest one. */
  private final AtomicLong pending = new AtomicLong(-1);

  public void add(long bytes) {
    long now = done.addAndGet(bytes);
    long last = lastReport.get();
    long time = System.nanoTime();
    if (now == total || (time - last >= intervalNanos && lastReport.compareAndSet(last, time))) {
      if (pending.getAndAccumulate(now, Math::max) < 0) {
        DELIVERY.execute(this::deliver);
      }
    }
  }

  private void deliver() {
    long figure = pending.getAndSet(-1);
    if (figure >= 0) {
      listener.onProgress(figure, total);
    }
  }

  public long done() {
    return done.get();
  }
}
