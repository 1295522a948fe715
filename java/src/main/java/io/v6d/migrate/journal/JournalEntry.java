package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One record of a migration's journal: an unpersisted metadata object of typename {@value #TYPENAME}
 * on the target, naming its owner and what the owner created there (blobs, metadata objects, a name).
 * Unpersisted, it lives exactly as long as the blobs it lists: vineyardd keeps it after its creator's
 * connection closes, and loses it, with every blob, when it restarts.
 */
record JournalEntry(long id, String owner, String lock, String host, long pid, List<Long> blobs, long bytes,
    List<Long> objects, String name, long root) {
  static final String TYPENAME = "vineyard::migrate::Journal";

  static ObjectNode content(long instanceId, String owner, String lock, List<Long> blobs, long bytes,
      List<Long> objects, String name, long root) {
    ObjectNode content = FrameCodec.mapper().createObjectNode()
        .put("typename", TYPENAME)
        .put("instance_id", instanceId)
        .put("nbytes", 0)
        .put("owner", owner)
        .put("lock", lock)
        .put("host", Journal.HOST)
        .put("pid", ProcessHandle.current().pid())
        .put("bytes", bytes);
    blobs.forEach(id -> content.withArray("blobs").add(ObjectIds.format(id)));
    objects.forEach(id -> content.withArray("objects").add(ObjectIds.format(id)));
    if (name != null) {
      content.put("migrate_name", name).put("migrate_root", ObjectIds.format(root));
    }
    return content;
  }

  /** Every journal entry on the target instance. */
  static List<JournalEntry> list(VineyardClient target) {
    List<JournalEntry> entries = new ArrayList<>();
    for (Map.Entry<Long, JsonNode> found : target.listData(TYPENAME, Integer.MAX_VALUE).entrySet()) {
      JsonNode tree = found.getValue();
      if (!TYPENAME.equals(tree.path("typename").asText()) || !tree.path("owner").isTextual()
          || tree.path("instance_id").asLong(-1) != target.instanceId()) {
        continue;
      }
      entries.add(new JournalEntry(found.getKey(), tree.path("owner").asText(), tree.path("lock").asText(""),
          tree.path("host").asText(""), tree.path("pid").asLong(-1), ids(tree.path("blobs")),
          Math.max(0, tree.path("bytes").asLong(0)), ids(tree.path("objects")),
          tree.path("migrate_name").isTextual() ? tree.path("migrate_name").asText() : null,
          tree.path("migrate_root").isTextual() ? ObjectIds.parse(tree.path("migrate_root").asText()) : 0));
    }
    return entries;
  }

  /** Ids of a JSON array, or of a JSON array in a string (as vineyard's Python client writes lists). */
  private static List<Long> ids(JsonNode field) {
    JsonNode array = field;
    if (field.isTextual()) {
      try {
        array = FrameCodec.mapper().readTree(field.asText());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        return List.of();
      }
    }
    List<Long> ids = new ArrayList<>();
    array.forEach(id -> {
      if (id.isTextual() && ObjectIds.looksLikeId(id.asText())) {
        ids.add(ObjectIds.parse(id.asText()));
      }
    });
    return ids;
  }
}
