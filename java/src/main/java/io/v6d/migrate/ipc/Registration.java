package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/** Registering a new connection with vineyardd as a client (its register request), counted. */
final class Registration {
  private static final String PROTOCOL_VERSION = "0.24.2";
  private static final AtomicLong REGISTRATIONS = new AtomicLong();

  private Registration() {}

  /** Registrations with any vineyardd since this process started. */
  static long count() {
    return REGISTRATIONS.get();
  }

  /** Opens a connection and registers it; {@code open} stays with the client to open more like it. */
  static VineyardClient register(Supplier<FramedConnection> open) {
    FramedConnection connection = open.get();
    REGISTRATIONS.incrementAndGet();
    String socketPath = connection.peer();
    try {
      ObjectNode request = FrameCodec.newMessage("register_request")
          .put("version", PROTOCOL_VERSION)
          .put("store_type", "Normal")
          .put("session_id", 0)
          .put("username", "")
          .put("password", "");
      JsonNode reply = connection.call(request, "register_reply");
      if (!reply.path("store_match").asBoolean(true)) {
        throw new MigrateException(ErrorCode.INVALID, "vineyardd at " + socketPath + " uses another store type");
      }
      return new VineyardClient(connection, open, reply);
    } catch (RuntimeException e) {
      connection.close();
      throw e;
    }
  }
}
