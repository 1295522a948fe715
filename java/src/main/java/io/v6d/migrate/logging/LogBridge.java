package io.v6d.migrate.logging;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Hands the engine's log records (slf4j → java.util.logging) to a sink, so that inside Python they
 * go to Python's logging instead of being printed by the JVM.
 */
public final class LogBridge extends Handler {
  /** Receives one record: java.util.logging level value, logger name, formatted message. */
  public interface Sink {
    void log(int level, String logger, String message);
  }

  private final Sink sink;

  private LogBridge(Sink sink) {
    this.sink = sink;
    setFormatter(new SimpleFormatter());
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
      String message = getFormatter().formatMessage(record);
      if (record.getThrown() != null) {
        message = message + ": " + record.getThrown();
      }
      sink.log(record.getLevel().intValue(), record.getLoggerName(), message);
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
