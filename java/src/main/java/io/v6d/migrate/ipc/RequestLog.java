package io.v6d.migrate.ipc;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * How many requests of each type this process sent to vineyardd instances (over IPC or RPC), since
 * start or the last {@link #reset()}. One striped counter per request type: cheap enough to stay on.
 * docs/scaling.md is written from these counts, taken in the tests.
 */
public final class RequestLog {
  private static final Map<String, LongAdder> COUNTS = new ConcurrentHashMap<>();

  private RequestLog() {}

  static void sent(String type) {
    COUNTS.computeIfAbsent(type, k -> new LongAdder()).increment();
  }

  /** The counts so far, by request type (sorted). */
  public static Map<String, Long> snapshot() {
    Map<String, Long> out = new TreeMap<>();
    COUNTS.forEach((type, count) -> out.put(type, count.sum()));
    return out;
  }

  /** The counts as JSON text, for the Python face and the tests. */
  public static String snapshotJson() {
    var node = FrameCodec.mapper().createObjectNode();
    snapshot().forEach(node::put);
    return node.toString();
  }

  public static void reset() {
    COUNTS.clear();
  }
}
