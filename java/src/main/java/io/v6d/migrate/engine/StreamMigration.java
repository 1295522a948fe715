package io.v6d.migrate.engine;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.meta.ObjectIds;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stream being forwarded to another instance, in the background: the target stream exists from
 * the start and receives each chunk as soon as the source produces it. Thread-safe.
 */
public final class StreamMigration {
  private final long sourceStreamId;
  private final long targetStreamId;
  private final AtomicLong chunks = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private volatile Runnable onCancel = () -> {};

  StreamMigration(long sourceStreamId, long targetStreamId) {
    this.sourceStreamId = sourceStreamId;
    this.targetStreamId = targetStreamId;
  }

  public String sourceStreamIdString() {
    return ObjectIds.format(sourceStreamId);
  }

  public String targetStreamIdString() {
    return ObjectIds.format(targetStreamId);
  }

  /** Chunks forwarded so far. */
  public long chunks() {
    return chunks.get();
  }

  /** Bytes forwarded so far. */
  public long bytes() {
    return bytes.get();
  }

  public boolean isDone() {
    return done.isDone();
  }

  /** "running", "finished" (the source ended and so did the target) or "failed". */
  public String state() {
    return !done.isDone() ? "running" : done.isCompletedExceptionally() ? "failed" : "finished";
  }

  /** Waits up to {@code millis} (negative: for ever); true once forwarding has ended, either way. */
  public boolean await(long millis) {
    try {
      if (millis < 0) {
        done.get();
      } else {
        done.get(millis, TimeUnit.MILLISECONDS);
      }
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    return true;
  }

  /** Why forwarding failed, or null. */
  public MigrateException error() {
    if (!done.isCompletedExceptionally()) {
      return null;
    }
    try {
      done.join();
      return null;
    } catch (java.util.concurrent.CompletionException e) {
      return e.getCause() instanceof MigrateException m ? m : new MigrateException(ErrorCode.UNKNOWN, String.valueOf(e.getCause()));
    }
  }

  /** Stops forwarding; the target stream is marked failed. */
  public void cancel() {
    if (done.completeExceptionally(new MigrateException(ErrorCode.STREAM_FAILED, "stream migration cancelled"))) {
      onCancel.run();
    }
  }

  void onCancel(Runnable action) {
    this.onCancel = action;
  }

  void forwarded(long chunkBytes) {
    chunks.incrementAndGet();
    bytes.addAndGet(chunkBytes);
  }

  void finished() {
    done.complete(null);
  }

  void failed(MigrateException error) {
    done.completeExceptionally(error);
  }
}
