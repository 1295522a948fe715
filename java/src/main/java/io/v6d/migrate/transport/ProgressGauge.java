package io.v6d.migrate.transport;

/**
 * Progress that the caller reads instead of being called back: the engine's threads (a Netty event
 * loop among them) only store two numbers, and a Python caller polls them from its own thread
 * between its waits. A callback into Python would need the interpreter's lock on the thread that
 * moves the bytes, so a busy Python thread could stall the transfer.
 *
 * <pre>{@code
 * ProgressGauge gauge = new ProgressGauge();
 * EngineCall<MigrationResult> call = Migrate.startMigrate(id, target, options, gauge);
 * while (!call.waitFor(100)) { show(gauge.bytesDone(), gauge.bytesTotal()); }
 * }</pre>
 */
public final class ProgressGauge implements ProgressListener {
  // one snapshot object, swapped whole, so a reader never sees the done of one report with the
  // total of another
  private volatile long[] latest = {0, 0};

  @Override
  public void onProgress(long bytesDone, long bytesTotal) {
    latest = new long[] {bytesDone, bytesTotal};
  }

  /** Bytes landed on the target so far. */
  public long bytesDone() {
    return latest[0];
  }

  /** Bytes the transfer moves in all; 0 until the first report. */
  public long bytesTotal() {
    return latest[1];
  }

  /** Both at once, from one report: {@code [done, total]}. */
  public long[] snapshot() {
    return latest.clone();
  }
}
