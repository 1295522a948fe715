package io.v6d.migrate.transport;

/** Told how many bytes have landed on the target so far; called from the copying thread. */
@FunctionalInterface
public interface ProgressListener {
  ProgressListener NONE = (done, total) -> {};

  void onProgress(long bytesDone, long bytesTotal);
}
