package io.v6d.migrate.compress;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that compress and decompress DATA chunks, so that no event loop spends the
 * milliseconds a chunk takes (Netty: nothing blocks an event loop). One per core, daemon, idle
 * ones end after a minute. Work is queued only a chunk or two per connection at a time: the
 * callers bound what is in flight, so the queue needs no bound of its own.
 */
public final class CodecThreads {
  private CodecThreads() {}

  private static final class Holder {
    static final ExecutorService POOL = pool();

    private static ExecutorService pool() {
      AtomicInteger count = new AtomicInteger();
      int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
      ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(), task -> {
            Thread thread = new Thread(task, "vineyard-migrate-codec-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
          });
      pool.allowCoreThreadTimeOut(true);
      return pool;
    }
  }

  public static Executor executor() {
    return Holder.POOL;
  }
}
