package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** A peer's pull order (a rebalance's share for one target), checked: what {@link PullSession} pulls. */
record PullOrder(List<Chunk> chunks, int perSource, int perTarget, TransportChoice transport, long timeoutMillis,
    int connections, Compression compression) {
  /** Chunks one order may name: an order is a rebalance's share for one target. */
  static final int MAX_CHUNKS = 100_000;

  /** A chunk to pull and the instance said to hold it (a key for the per-source bound only). */
  record Chunk(long id, long from) {}

  static PullOrder parse(JsonNode request) {
    JsonNode list = request.path("chunks");
    if (!list.isArray() || list.isEmpty() || list.size() > MAX_CHUNKS) {
      throw new MigrateException(ErrorCode.INVALID, "a pull names 1 to " + MAX_CHUNKS + " chunks, not "
          + (list.isArray() ? String.valueOf(list.size()) : "a " + list.getNodeType()));
    }
    List<Chunk> chunks = new ArrayList<>();
    Set<Long> seen = new HashSet<>();
    for (JsonNode entry : list) {
      long id = ObjectIds.parse(entry.path("id").asText(""));
      if (ObjectIds.isBlob(id)) {
        throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(id) + " is a blob: a pull names objects");
      }
      if (!seen.add(id)) {
        throw new MigrateException(ErrorCode.INVALID, "chunk " + ObjectIds.format(id) + " is named twice");
      }
      JsonNode from = entry.path("from");
      if (!from.canConvertToLong() || from.asLong() < 0) {
        throw new MigrateException(ErrorCode.INVALID, "chunk " + ObjectIds.format(id)
            + " needs \"from\", the instance id holding it");
      }
      chunks.add(new Chunk(id, from.asLong()));
    }
    return new PullOrder(chunks, bound(request, "per_source"), bound(request, "per_target"),
        TransportChoice.parse(request.path("transport").asText("auto")),
        Timeouts.orDefault(request.path("timeout_ms").asLong(0)), bound(request, "connections"),
        compression(request.path("compression")));
  }

  /** What the caller asked of its own connections; absent: none (a peer of an older version). */
  private static Compression compression(JsonNode value) {
    if (value.isMissingNode()) {
      return Compression.NONE;
    }
    if (!value.isTextual() || value.asText().isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "compression must be auto, lz4, zstd or none, not " + value);
    }
    return Compression.parse(value.asText());
  }

  private static int bound(JsonNode request, String field) {
    JsonNode value = request.path(field);
    if (!value.canConvertToInt() || value.asInt() < 1 || value.asInt() > 64) {
      throw new MigrateException(ErrorCode.INVALID, field + " must be from 1 to 64, not " + value);
    }
    return value.asInt();
  }
}
