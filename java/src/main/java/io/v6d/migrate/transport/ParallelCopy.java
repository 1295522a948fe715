package io.v6d.migrate.transport;

import io.v6d.migrate.shm.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

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

  static void copy(long from, long to, long bytes) {
    if (bytes < SLICE) {
      slice(from, to, bytes);
      return;
    }
    List<Future<?>> slices = new ArrayList<>();
    for (long offset = 0; offset < bytes; offset += SLICE) {
      long at = offset;
      long length = Math.min(SLICE, bytes - offset);
      slices.add(POOL.submit(() -> slice(from + at, to + at, length)));
    }
    try {
      for (Future<?> slice : slices) {
        slice.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      slices.forEach(s -> s.cancel(false));
      throw new IllegalStateException("copy interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("copy failed", e.getCause());
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
