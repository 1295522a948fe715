package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.MigrateException;
import java.util.function.IntFunction;
import java.util.function.ObjIntConsumer;

/** Requests sent in windows and their replies read in order: latency paid once per window. */
final class Pipeline {
  /** Requests in flight at once: small enough that replies never fill the socket. */
  static final int WINDOW = 128;

  private Pipeline() {}

  /**
   * Sends {@code count} requests, {@link #WINDOW} at a time, and hands each reply that succeeded to
   * {@code onReply}; the first failure is thrown once its window drained (the connection stays in step).
   */
  static void run(FramedConnection connection, int count, IntFunction<ObjectNode> request,
      ObjIntConsumer<JsonNode> onReply, String requestType, String replyType) {
    MigrateException first = null;
    for (int start = 0; start < count && first == null; start += WINDOW) {
      int end = Math.min(count, start + WINDOW);
      for (int i = start; i < end; i++) {
        connection.send(request.apply(i));
      }
      for (int i = start; i < end; i++) {
        try {
          onReply.accept(connection.checked(connection.receive(), replyType, requestType), i);
        } catch (MigrateException e) {
          if (first == null) {
            first = e;
          }
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
