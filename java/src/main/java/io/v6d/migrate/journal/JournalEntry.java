package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One record of a migration's journal: what its owner created on the target (blobs, metadata
 * objects, a name), or the new global object that commits it once persisted ({@link PreparedCommit}). Kept as a line of the owner's lock file ({@link JournalFile}, {@code id} 0); the
 * versions before kept it as an unpersisted metadata object of typename {@value #TYPENAME} on the
 * target ({@code id} its id), which {@link #list} still finds for a reclaim of their dead owners.
 */
record JournalEntry(long id, String owner, String lock, String host, long pid, List<Long> blobs, long bytes,
    List<Long> objects, String name, long root, long preparedGlobal, List<Long> preparedMembers, long decideAfterMillis) {
  static final String TYPENAME = "vineyard::migrate::Journal";

  /** Every journal entry an older version left on the target instance as a metadata object. */
  static List<JournalEntry> list(VineyardClient target) {
    List<JournalEntry> entries = new ArrayList<>();
    for (Map.Entry<Long, JsonNode> found : target.listData(TYPENAME, Integer.MAX_VALUE).entrySet()) {
      JsonNode tree = found.getValue();
      if (!TYPENAME.equals(tree.path("typename").asText()) || !tree.path("owner").isTextual()
          || tree.path("instance_id").asLong(-1) != target.instanceId()) {
        continue;
      }
      entries.add(of(found.getKey(), tree.path("owner").asText(), tree.path("lock").asText(""), tree, tree));
    }
    return entries;
  }

  /** An entry from its JSON {@code tree}; host and pid from {@code owner}'s fields. */
  static JournalEntry of(long id, String owner, String lock, JsonNode ownerFields, JsonNode tree) {
    return new JournalEntry(id, owner, lock, ownerFields.path("host").asText(""), ownerFields.path("pid").asLong(-1),
        ids(tree.path("blobs")), Math.max(0, tree.path("bytes").asLong(0)), ids(tree.path("objects")),
        tree.path("migrate_name").isTextual() ? tree.path("migrate_name").asText() : null,
        tree.path("migrate_root").isTextual() && ObjectIds.looksLikeId(tree.path("migrate_root").asText())
            ? ObjectIds.parse(tree.path("migrate_root").asText()) : 0,
        tree.path("prepared_global").isTextual() && ObjectIds.looksLikeId(tree.path("prepared_global").asText())
            ? ObjectIds.parse(tree.path("prepared_global").asText()) : 0,
        ids(tree.path("prepared_members")), tree.path("decide_after_ms").asLong(0));
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
