package io.v6d.migrate.meta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Rebuilds a metadata tree for the target instance.
 *
 * <p>Blob members get the id of their copy on the target; every other member is created on the
 * target first and is then referred to by its new id, because vineyardd's create_data links members
 * by id and does not create them; members the target holds already ({@code onTarget}) are referred
 * to as they are. Members are created level by level, the deepest first, each level in one batch
 * ({@code creator}), so an object of 10,000 members costs a handful of requests, not 10,000. A
 * member shared by two parents is created once. Every field and the signature are kept, so the
 * object is the same object to vineyard's resolvers; {@code instance_id} becomes the target's.
 * Pure code: no I/O but what {@code creator} does.
 */
public final class MetaRewriter {
  /** What the target answered for one created member: its new id and signature. */
  public record Created(long id, long signature) {}

  private final Map<Long, Long> blobIds;
  private final long targetInstance;
  private final Predicate<JsonNode> onTarget;
  private final Function<List<ObjectNode>, List<Created>> creator;
  /** Members already created, by their old id. */
  private final Map<Long, ObjectNode> createdMembers = new HashMap<>();

  public MetaRewriter(Map<Long, Long> blobIds, long targetInstance, Predicate<JsonNode> onTarget,
      Function<List<ObjectNode>, List<Created>> creator) {
    this.blobIds = blobIds;
    this.targetInstance = targetInstance;
    this.onTarget = onTarget;
    this.creator = creator;
  }

  /** The content to create the top-level object with (its members already created). */
  public ObjectNode rewriteRoot(JsonNode root) {
    Map<Long, JsonNode> members = new LinkedHashMap<>();
    Map<Long, Integer> heights = new HashMap<>();
    height(root, members, heights);
    int top = heights.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    for (int level = 1; level <= top; level++) {
      List<Long> ids = new ArrayList<>();
      List<ObjectNode> contents = new ArrayList<>();
      for (Map.Entry<Long, JsonNode> member : members.entrySet()) {
        if (heights.get(member.getKey()) == level) {
          ids.add(member.getKey());
          contents.add(rewriteFields(member.getValue()));
        }
      }
      List<Created> created = contents.isEmpty() ? List.of() : creator.apply(contents);
      for (int i = 0; i < ids.size(); i++) {
        // a created member is linked by its id alone: vineyardd expands links itself, and a parent
        // of 10,000 members stays small
        ObjectNode link = JsonNodeFactory.instance.objectNode().put("id", ObjectIds.format(created.get(i).id()));
        createdMembers.put(ids.get(i), link);
      }
    }
    return rewriteFields(root);
  }

  /**
   * The height of each member to create under {@code node} (1: only blobs or kept members below
   * it); returns the height of {@code node} itself.
   */
  private int height(JsonNode node, Map<Long, JsonNode> members, Map<Long, Integer> heights) {
    int below = 0;
    for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
      JsonNode child = it.next();
      if (MetaTree.isMember(child) && !MetaTree.isBlob(child) && !onTarget.test(child)) {
        long id = MetaTree.id(child);
        Integer known = heights.get(id);
        if (known == null) {
          known = height(child, members, heights);
          heights.put(id, known);
          members.put(id, child);
        }
        below = Math.max(below, known);
      }
    }
    return below + 1;
  }

  private ObjectNode rewriteFields(JsonNode node) {
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      String key = field.getKey();
      JsonNode value = field.getValue();
      if (key.equals("id") || key.equals("__timestamp")) {
        continue; // the target assigns both
      }
      if (MetaTree.isMember(value) && MetaTree.isBlob(value)) {
        out.set(key, rewriteBlob(value));
      } else if (MetaTree.isMember(value)) {
        out.set(key, onTarget.test(value) ? value : createdMembers.get(MetaTree.id(value)));
      } else {
        out.set(key, value);
      }
    }
    out.put("instance_id", targetInstance);
    out.put("transient", true);
    return out;
  }

  private ObjectNode rewriteBlob(JsonNode blob) {
    long oldId = MetaTree.id(blob);
    Long newId = ObjectIds.isEmptyBlob(oldId) ? Long.valueOf(oldId) : blobIds.get(oldId);
    if (newId == null) {
      throw new MigrateException(
          ErrorCode.META_TREE_INVALID, "no copy of blob " + ObjectIds.format(oldId) + " on the target");
    }
    ObjectNode out = ((ObjectNode) blob).deepCopy();
    out.put("id", ObjectIds.format(newId));
    out.put("instance_id", targetInstance);
    return out;
  }
}
