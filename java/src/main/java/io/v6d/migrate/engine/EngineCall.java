package io.v6d.migrate.engine;

import io.netty.util.concurrent.DefaultThreadFactory;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * One engine call run on a daemon thread of its own, so that its caller can wait for it in short
 * slices and cancel it: a Python main thread blocked in one long Java call would never see Ctrl-C.
 *
 * <pre>{@code
 * EngineCall<MigrationResult> call = EngineCall.start(() -> new MigrationEngine().migrate(request, progress));
 * while (!call.waitFor(200)) { ... }   // or call.cancel(), then waitFor(-1): rolled back
 * MigrationResult result = call.result();
 * }</pre>
 *
 * <p>Cancelling is cooperative: the engine stops at its {@link #checkpoint()}s, and only a transfer
 * in progress ({@link #interruptibly}) is interrupted, so that the rollback that follows runs on a
 * thread whose interrupt flag is clear and whose requests to vineyardd are never cut short.
 */
public final class EngineCall<T> {
  private static final ExecutorService THREADS =
      Executors.newCachedThreadPool(new DefaultThreadFactory("vineyard-migrate-call", true));
  private static final ThreadLocal<EngineCall<?>> CURRENT = new ThreadLocal<>();

  private final CompletableFuture<T> outcome = new CompletableFuture<>();
  private final long startedNanos = System.nanoTime();
  private Thread runner; // guarded by this
  private boolean interruptible; // guarded by this
  private volatile boolean cancelled;

  private EngineCall() {}

  /** Runs {@code work} on a thread of the engine; returns at once. */
  public static <T> EngineCall<T> start(Supplier<T> work) {
    EngineCall<T> call = new EngineCall<>();
    THREADS.execute(() -> call.run(work));
    return call;
  }

  private void run(Supplier<T> work) {
    synchronized (this) {
      runner = Thread.currentThread();
    }
    CURRENT.set(this);
    try {
      checkpoint();
      outcome.complete(work.get());
    } catch (RuntimeException | Error e) {
      outcome.completeExceptionally(cancelled && !isCancellation(e) ? cancellation(e) : e);
    } finally {
      WaitSpin.ended(System.nanoTime() - startedNanos);
      CURRENT.remove();
      synchronized (this) {
        runner = null;
        Thread.interrupted(); // a pooled thread starts its next call clean
      }
    }
  }

  /**
   * Waits up to {@code millis} (forever when negative) for the call to end; true once it has,
   * whether it succeeded or failed. A young call is waited for spinning at first ({@link WaitSpin}).
   */
  public boolean waitFor(long millis) throws InterruptedException {
    if (millis != 0) {
      WaitSpin.untilDone(outcome::isDone, startedNanos, millis < 0 ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(millis));
    }
    try {
      if (millis < 0) {
        outcome.get();
      } else {
        outcome.get(millis, TimeUnit.MILLISECONDS);
      }
    } catch (ExecutionException | CancellationException e) {
      return true;
    } catch (TimeoutException e) {
      return false;
    }
    return true;
  }

  public boolean isDone() {
    return outcome.isDone();
  }

  /** The call's result once it has ended; its failure is thrown as it was (a MigrateException). */
  public T result() {
    try {
      return outcome.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error error) {
        throw error;
      }
      throw e;
    }
  }

  /**
   * Asks the call to stop: it fails with {@link ErrorCode#ALREADY_STOPPED} once it has rolled back
   * what it created. A call past its last checkpoint completes regardless.
   */
  public void cancel() {
    cancelled = true;
    synchronized (this) {
      if (runner != null && interruptible) {
        runner.interrupt();
      }
    }
  }

  public boolean isCancelled() {
    return cancelled;
  }

  /** Fails with {@link ErrorCode#ALREADY_STOPPED} when the call running on this thread was cancelled. */
  public static void checkpoint() {
    EngineCall<?> call = CURRENT.get();
    if (call != null && call.cancelled) {
      throw cancellation(null);
    }
  }

  /**
   * Runs a transfer that {@link #cancel()} may interrupt (waits on connections and copy threads
   * give up at once); the interrupt flag is clear again when this returns or throws.
   */
  public static void interruptibly(Runnable section) {
    EngineCall<?> call = CURRENT.get();
    if (call == null) {
      section.run();
      return;
    }
    call.interruptible(true);
    try {
      section.run();
    } finally {
      call.interruptible(false);
    }
    checkpoint();
  }

  private synchronized void interruptible(boolean on) {
    if (on) {
      checkpoint();
    } else {
      Thread.interrupted(); // under the lock: no interrupt can arrive after this
    }
    interruptible = on;
  }

  private static boolean isCancellation(Throwable e) {
    return e instanceof MigrateException m && m.code() == ErrorCode.ALREADY_STOPPED;
  }

  private static MigrateException cancellation(Throwable cause) {
    return new MigrateException(ErrorCode.ALREADY_STOPPED,
        "the migration was cancelled; what it had created on the target was rolled back", cause);
  }
}
