package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Map;
import java.util.OptionalLong;
import java.util.zip.CRC32C;

/**
 * The records that make migration idempotent, as vineyard's own {@code client.migrate} is: a small
 * metadata object on the target, created by the migration that made a copy (journaled with it, so a
 * migration that dies leaves no record of a copy it never committed), saying which source object it
 * is a copy of. Any process that migrates the same object to the same instance later finds it and
 * returns that copy; a record whose copy was deleted is dropped and the object copied again.
 *
 * <p>The key names the source instance (its cluster, when the target is in it; else its IPC socket
 * and RPC endpoint), the object id and its signature (ids of independent instances may repeat), and
 * is part of the record's typename, so that looking it up lists only matching records.
 */
final class CopyRecords {
  static final String TYPENAME_PREFIX = "vineyard_migrate::Copy_";

  private CopyRecords() {}

  /** The record's typename for {@code tree} (the source object) coming from {@code sourceKey}. */
  static String typename(String sourceKey, ObjectNode tree) {
    CRC32C crc = new CRC32C();
    crc.update(sourceKey.getBytes(StandardCharsets.UTF_8));
    return TYPENAME_PREFIX + HexFormat.of().toHexDigits((int) crc.getValue()) + "_" + ObjectIds.format(MetaTree.id(tree))
        + "_" + Long.toUnsignedString(tree.path("signature").asLong(0), 16);
  }

  /** The copy an earlier migration made, if it is still there; stale records are deleted. */
  static OptionalLong find(VineyardClient target, String typename, String sourceKey) {
    for (Map.Entry<Long, JsonNode> record : target.listData(typename, 16).entrySet()) {
      JsonNode content = record.getValue();
      if (!typename.equals(content.path("typename").asText()) || !sourceKey.equals(content.path("source").asText())
          || content.path("instance_id").asLong(-1) != target.instanceId()) {
        continue;
      }
      long copy = ObjectIds.parse(content.path("copy").asText());
      if (target.exists(copy)) {
        return OptionalLong.of(copy);
      }
      try {
        target.delete(java.util.List.of(record.getKey()), true, false);
      } catch (MigrateException ignored) {
        // another process dropped it first
      }
    }
    return OptionalLong.empty();
  }

  /** The content of the record that {@code copy} (on the target) is a copy of the source object. */
  static ObjectNode content(String typename, String sourceKey, long targetInstance, long copy) {
    return FrameCodec.mapper().createObjectNode()
        .put("typename", typename)
        .put("instance_id", targetInstance)
        .put("nbytes", 0)
        .put("source", sourceKey)
        .put("copy", ObjectIds.format(copy));
  }
}
