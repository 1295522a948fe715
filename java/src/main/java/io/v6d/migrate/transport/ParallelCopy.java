package io.v6d.migrate.transport;

import io.v6d.migrate.shm.NativeMemory;
import io.v6d.migrate.shm.Prefault;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.LongConsumer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Mapping-to-mapping copy: large blobs split into slices, many small ones grouped into jobs, run on
 * a few threads, each range's pages faulted in first when that pays ({@link Prefault#aheadOfCopy}:
 * one madvise per range instead of a fault per page). A single small blob is copied in place: threads would cost more than they save.
 */
final class ParallelCopy {
  private static final long SLICE = 32L << 20;
  /** Small segments are grouped into jobs of about this many bytes: enough to spread 1 MiB blobs over the threads. */
  private static final long SMALL_JOB = 8L << 20;
  private static final int THREADS = Math.min(4, Math.max(1, Runtime.getRuntime().availableProcessors()));
  private static final ExecutorService POOL = Executors.newFixedThreadPool(THREADS, runnable -> {
    Thread thread = new Thread(runnable, "vineyard-migrate-copy");
    thread.setDaemon(true);
    return thread;
  });

  private ParallelCopy() {}

  /** One range to copy: from one mapping to another. */
  record Segment(long from, long to, long bytes) {}

  /**
   * Copies {@code bytes}; when interrupted, stops handing out slices and returns (throwing) only once
   * no copy thread writes into {@code to} any more: the caller frees that memory next.
   */
  static void copy(long from, long to, long bytes) {
    copyAll(List.of(new Segment(from, to, bytes)), done -> { });
  }

  /**
   * Copies every segment: large ones in slices, small ones (many blobs of a batch or a state dict)
   * grouped into jobs of about a slice, the jobs spread over the copy threads. {@code copied} hears,
   * on the calling thread, of the bytes of each job as it finishes. Interruption as for {@link #copy}.
   */
  static void copyAll(List<Segment> segments, LongConsumer copied) {
    List<List<Segment>> jobs = jobs(segments);
    if (jobs.size() == 1) {
      jobs.get(0).forEach(s -> slice(s.from(), s.to(), s.bytes()));
      copied.accept(jobs.get(0).stream().mapToLong(Segment::bytes).sum());
      return;
    }
    BlockingQueue<Long> finished = new LinkedBlockingQueue<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (List<Segment> job : jobs) {
      POOL.execute(() -> {
        long bytes = 0;
        try {
          for (Segment s : job) {
            if (!stop.get()) {
              slice(s.from(), s.to(), s.bytes());
              bytes += s.bytes();
            }
          }
        } catch (RuntimeException | Error e) {
          failure.compareAndSet(null, e);
          stop.set(true);
        } finally {
          finished.add(bytes);
        }
      });
    }
    boolean interrupted = false;
    for (int left = jobs.size(); left > 0; ) {
      try {
        long bytes = finished.take();
        left--;
        if (!interrupted && failure.get() == null) {
          copied.accept(bytes);
        }
      } catch (InterruptedException e) {
        interrupted = true;
        stop.set(true); // jobs under way end within one slice's copy; the rest are skipped
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

  /** Slices of large segments, and runs of small ones of about a slice in all. */
  private static List<List<Segment>> jobs(List<Segment> segments) {
    List<List<Segment>> jobs = new ArrayList<>();
    List<Segment> run = new ArrayList<>();
    long runBytes = 0;
    for (Segment s : segments) {
      if (s.bytes() >= SLICE) {
        for (long offset = 0; offset < s.bytes(); offset += SLICE) {
          jobs.add(List.of(new Segment(s.from() + offset, s.to() + offset, Math.min(SLICE, s.bytes() - offset))));
        }
        continue;
      }
      run.add(s);
      runBytes += s.bytes();
      if (runBytes >= SMALL_JOB) {
        jobs.add(run);
        run = new ArrayList<>();
        runBytes = 0;
      }
    }
    if (!run.isEmpty() || jobs.isEmpty()) {
      jobs.add(run);
    }
    return jobs;
  }

  private static void slice(long from, long to, long length) {
    if (length <= 0) {
      return;
    }
    // pooled mappings keep their pages: populating them again only walks the page table (88 us
    // of a warm 1 MiB call whose copy took 30), so only regions not populated before are
    Prefault.aheadOfCopy(from, to, length);
    NativeMemory.copy(from, to, length);
  }
}
