package io.v6d.migrate.engine;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Concurrent calls with one key run once in this process: the first runs, the others wait for it
 * and get its result (or try again themselves if it failed, so one caller's cancellation is not
 * everyone's failure).
 */
final class SingleFlight<T> {
  private final ConcurrentHashMap<String, CompletableFuture<T>> inFlight = new ConcurrentHashMap<>();

  T run(String key, Supplier<T> work) {
    while (true) {
      CompletableFuture<T> mine = new CompletableFuture<>();
      CompletableFuture<T> running = inFlight.putIfAbsent(key, mine);
      if (running == null) {
        try {
          T result = work.get();
          mine.complete(result);
          return result;
        } catch (RuntimeException | Error e) {
          mine.completeExceptionally(e);
          throw e;
        } finally {
          inFlight.remove(key, mine);
        }
      }
      java.util.List<T> led = new java.util.ArrayList<>(1);
      EngineCall.interruptibly(() -> {
        try {
          led.add(running.get());
        } catch (java.util.concurrent.ExecutionException e) {
          // the leader failed: run it ourselves (its failure may have been its own cancellation)
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt(); // cancelled: interruptibly's checkpoint throws
        }
      });
      if (!led.isEmpty()) {
        return led.get(0);
      }
      if (Thread.interrupted()) {
        throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.ALREADY_STOPPED,
            "interrupted while waiting for the same migration in another thread");
      }
    }
  }
}
