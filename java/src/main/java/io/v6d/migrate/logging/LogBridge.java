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
 * go to Python's logging instead of being printed by the JVM. Only the engine's own loggers
 * ({@code io.v6d.migrate}, shaded libraries included) are routed: the JVM may be shared with other
 * code in the process, whose logging stays as it was.
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
  /** Held here: java.util.logging keeps loggers weakly, and would drop the configuration with it. */
  private static final Logger ENGINE = Logger.getLogger("io.v6d.migrate");
  private static LogBridge installed;

  private final Sink sink;
  private final BlockingQueue<LogRecord> queue = new LinkedBlockingQueue<>(QUEUE_LIMIT);
  private final Thread delivery;

  private LogBridge(Sink sink) {
    this.sink = sink;
    setFormatter(new SimpleFormatter());
    delivery = new Thread(this::deliver, "vineyard-migrate-log");
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

  /**
   * Routes the engine's records at {@code level} and above to {@code sink} (instead of the JVM's
   * console); replaces a sink installed before.
   */
  public static synchronized void install(Sink sink, int level) {
    uninstall();
    installed = new LogBridge(sink);
    ENGINE.addHandler(installed);
    ENGINE.setUseParentHandlers(false);
    ENGINE.setLevel(Level.parse(Integer.toString(level)));
  }

  /**
   * Makes and delivers only records at {@code level} and above (the sink's own threshold, as it is
   * now): a record below it would cost its caller a stack walk and a hand-off for nothing.
   */
  public static synchronized void level(int level) {
    ENGINE.setLevel(Level.parse(Integer.toString(level)));
  }

  /**
   * Stops delivering (records go to the JVM's own handlers again) once the record being delivered,
   * if any, is out: after this returns the sink is never called again. For the end of the process.
   */
  public static synchronized void uninstall() {
    if (installed == null) {
      return;
    }
    ENGINE.removeHandler(installed);
    ENGINE.setUseParentHandlers(true);
    installed.delivery.interrupt();
    try {
      installed.delivery.join(1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    installed = null;
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
