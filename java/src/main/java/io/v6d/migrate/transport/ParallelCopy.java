package io.v6d.migrate.transport;

import io.v6d.migrate.shm.NativeMemory;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Mapping-to-mapping copy of large blobs: split into slices that run on a few threads, each slice's
 * pages faulted in first (one madvise per slice instead of a fault per page). Small blobs are
 * copied in place: threads would cost more than they save.
 */
final class ParallelCopy {
  private static final long SLICE = 32L << 20;
  private static final int THREADS = Math.min(4, Math.max(1, Runtime.getRuntime().availableProcessors()));
  private static final ExecutorService POOL = Executors.newFixedThreadPool(THREADS, runnable -> {
    Thread thread = new Thread(runnable, "vineyard-migrate-copy");
    thread.setDaemon(true);
    return thread;
  });

  private ParallelCopy() {}

  /**
   * Copies {@code bytes}; when interrupted, stops handing out slices and returns (throwing) only once
   * no copy thread writes into {@code to} any more: the caller frees that memory next.
   */
  static void copy(long from, long to, long bytes) {
    if (bytes < SLICE) {
      slice(from, to, bytes);
      return;
    }
    int count = (int) ((bytes + SLICE - 1) / SLICE);
    CountDownLatch finished = new CountDownLatch(count);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (long offset = 0; offset < bytes; offset += SLICE) {
      long at = offset;
      long length = Math.min(SLICE, bytes - offset);
      POOL.execute(() -> {
        try {
          if (!stop.get()) {
            slice(from + at, to + at, length);
          }
        } catch (RuntimeException | Error e) {
          failure.compareAndSet(null, e);
          stop.set(true);
        } finally {
          finished.countDown();
        }
      });
    }
    boolean interrupted = false;
    while (true) {
      try {
        finished.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
        stop.set(true); // slices under way end within one slice's copy; the rest are skipped
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("copy interrupted");
    }
    if (failure.get() != null) {
      throw new IllegalStateException("copy failed", failure.get());
    }
  }

  private static void slice(long from, long to, long length) {
    if (length <= 0) {
      return;
    }
    NativeMemory.populate(to, length, true);
    NativeMemory.populate(from, length, false);
    NativeMemory.copy(from, to, length);
  }
}
