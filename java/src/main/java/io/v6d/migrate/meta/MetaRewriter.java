package io.v6d.migrate.meta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.math.BigInteger;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Rebuilds a metadata tree for the target instance.
 *
 * <p>Blob members get the id of their copy on the target; every other member is created on the
 * target first (deepest first, through {@code creator}) and is then referred to by its new id,
 * because vineyardd's create_data links members by id and does not create them; members the target
 * holds already ({@code onTarget}) are referred to as they are. Every field and
 * the signature are kept, so the object is the same object to vineyard's resolvers; {@code
 * instance_id} becomes the target's. Pure code: no I/O but what {@code creator} does.
 */
public final class MetaRewriter {
  /** What the target answered for one created member: its new id and signature. */
  public record Created(long id, long signature) {}

  private final Map<Long, Long> blobIds;
  private final long targetInstance;
  private final Function<ObjectNode, Created> creator;
  private final Predicate<JsonNode> onTarget;
  /** Members already created, by their old id: a member shared by two parents is created once. */
  private final Map<Long, ObjectNode> createdMembers = new HashMap<>();

  public MetaRewriter(
      Map<Long, Long> blobIds, long targetInstance, Predicate<JsonNode> onTarget, Function<ObjectNode, Created> creator) {
    this.blobIds = blobIds;
    this.targetInstance = targetInstance;
    this.onTarget = onTarget;
    this.creator = creator;
  }

  /** The content to create the top-level object with (its members already created). */
  public ObjectNode rewriteRoot(JsonNode root) {
    return rewriteFields(root);
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
        out.set(key, onTarget.test(value) ? value : createMember(value));
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

  private ObjectNode createMember(JsonNode member) {
    long oldId = MetaTree.id(member);
    ObjectNode done = createdMembers.get(oldId);
    if (done == null) {
      ObjectNode content = rewriteFields(member);
      Created created = creator.apply(content);
      done = content.deepCopy();
      done.put("id", ObjectIds.format(created.id()));
      done.put("signature", new BigInteger(Long.toUnsignedString(created.signature())));
      createdMembers.put(oldId, done);
    }
    return done;
  }
}
