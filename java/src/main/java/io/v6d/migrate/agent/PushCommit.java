package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.CopyRecords;
import io.v6d.migrate.engine.EarlierCopy;
import io.v6d.migrate.engine.TargetBuild;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The commit of a pushed migration of one or many objects ("objects": tree, copy tag, persist,
 * name each; "adopt": earlier copies to persist and name): every tree is checked
 * ({@link CommitCheck}) and every earlier copy must be a tagged copy on this instance before
 * anything is sealed or created; then all the objects are created together and committed once,
 * and recorded as copies ({@link CopyRecords}) so that pushing or migrating them again returns them.
 */
final class PushCommit {
  private PushCommit() {}

  static List<Long> commit(VineyardClient target, PushSession session, JsonNode request, Map<Long, Long> newBlobIds,
      boolean sameCluster) {
    List<TargetBuild.Root> roots = new ArrayList<>();
    for (JsonNode object : request.path("objects")) {
      JsonNode tree = object.path("tree");
      if (!tree.isObject()) {
        throw new MigrateException(ErrorCode.INVALID, "commit names an object without a tree");
      }
      Map<Long, Long> blobIds = newBlobIds;
      if (object.has("blobs")) { // its own: ids are unique per instance only
        blobIds = new LinkedHashMap<>();
        for (var it = object.path("blobs").fields(); it.hasNext(); ) {
          var e = it.next();
          blobIds.put(ObjectIds.parse(e.getKey()), ObjectIds.parse(e.getValue().asText()));
        }
      }
      CommitCheck.check(target, session, tree, blobIds, sameCluster);
      roots.add(new TargetBuild.Root((ObjectNode) tree, blobIds, textOrNull(object, "tag"),
          object.path("persist").asBoolean(true), textOrNull(object, "name"), object.path("overwrite_name").asBoolean(false)));
    }
    List<JsonNode> adopted = new ArrayList<>();
    request.path("adopt").forEach(adopted::add);
    for (JsonNode copy : adopted) {
      requireCopy(target, ObjectIds.parse(copy.path("id").asText()), copy.path("tag").asText());
    }
    List<Long> ids = session.commitMany(roots, sameCluster, () -> adopted.forEach(copy -> EarlierCopy.adopt(
        target, ObjectIds.parse(copy.path("id").asText()), null, copy.path("persist").asBoolean(true), textOrNull(copy, "name"),
        copy.path("overwrite_name").asBoolean(false))));
    for (int i = 0; i < roots.size(); i++) {
      if (roots.get(i).tag() != null) {
        CopyRecords.record(target, roots.get(i).tag(), ids.get(i));
      }
    }
    return ids;
  }

  /** A peer may persist and name only a copy a migration made here, of the object it says. */
  private static void requireCopy(VineyardClient target, long id, String tag) {
    JsonNode meta = target.getDatas(List.of(id), false).get(id);
    if (!CopyRecords.isCopy(target, meta, tag)) {
      throw new MigrateException(ErrorCode.INVALID, "commit adopts " + ObjectIds.format(id)
          + ", which is not a copy of the object it names on this instance");
    }
  }

  private static String textOrNull(JsonNode node, String field) {
    return node.hasNonNull(field) ? node.path(field).asText() : null;
  }
}
