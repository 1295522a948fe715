package io.v6d.migrate.logging;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Hands the engine's log records (slf4j → java.util.logging) to a sink, so that inside Python they
 * go to Python's logging instead of being printed by the JVM.
 *
 * <p>Records are delivered by a thread of their own: a sink in Python needs the interpreter's lock,
 * which a Python thread blocked in a native call may hold, and the engine must never wait for it.
 */
public final class LogBridge extends Handler {
  /** Receives one record: java.util.logging level value, logger name, formatted message. */
  public interface Sink {
    void log(int level, String logger, String message);
  }

  private static final int QUEUE_LIMIT = 10_000;

  private final Sink sink;
  private final BlockingQueue<LogRecord> queue = new LinkedBlockingQueue<>(QUEUE_LIMIT);

  private LogBridge(Sink sink) {
    this.sink = sink;
    setFormatter(new SimpleFormatter());
    Thread delivery = new Thread(this::deliver, "vineyard-migrate-log");
    delivery.setDaemon(true);
    delivery.start();
  }

  private void deliver() {
    while (true) {
      LogRecord record;
      try {
        record = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      String message = getFormatter().formatMessage(record);
      if (record.getThrown() != null) {
        message = message + ": " + record.getThrown();
      }
      try {
        sink.log(record.getLevel().intValue(), record.getLoggerName(), message);
      } catch (RuntimeException e) {
        // a sink that fails must not stop the next records
      }
    }
  }

  /** Routes every record at {@code level} and above to {@code sink}, replacing the console handler. */
  public static void install(Sink sink, int level) {
    Logger root = Logger.getLogger("");
    for (Handler handler : root.getHandlers()) {
      root.removeHandler(handler);
    }
    LogBridge bridge = new LogBridge(sink);
    root.addHandler(bridge);
    root.setLevel(Level.parse(Integer.toString(level)));
    Logger.getLogger("io.v6d.migrate").setLevel(Level.parse(Integer.toString(level)));
  }

  @Override
  public void publish(LogRecord record) {
    if (isLoggable(record)) {
      queue.offer(record); // when full (a stuck sink), records are dropped rather than waited on
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
