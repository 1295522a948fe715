package io.v6d.migrate.meta;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reading vineyard metadata trees ({@code src/client/ds/object_meta.cc}): members are nested JSON
 * objects with an {@code id} and a {@code typename}; blobs are members of typename
 * {@code vineyard::Blob}.
 */
public final class MetaTree {
  public static final String BLOB_TYPENAME = "vineyard::Blob";

  private MetaTree() {}

  public static long id(JsonNode node) {
    JsonNode id = node.get("id");
    if (id == null || !id.isTextual()) {
      throw new MigrateException(ErrorCode.META_TREE_INVALID, "metadata member without an id: " + abbreviate(node));
    }
    return ObjectIds.parse(id.asText());
  }

  /** A tree vineyardd answered for an object it knows (it answers an empty object, or nothing, for one it does not). */
  public static boolean isTree(JsonNode node) {
    return node != null && node.isObject() && !node.isEmpty();
  }

  public static boolean isMember(JsonNode node) {
    return node.isObject() && node.has("id") && node.has("typename");
  }

  public static boolean isBlob(JsonNode node) {
    return BLOB_TYPENAME.equals(node.path("typename").asText()) || (node.has("id") && ObjectIds.isBlob(id(node)));
  }

  /** A vineyard stream (ByteStream, RecordBatchStream, DataframeStream...): its data is not in its tree. */
  public static boolean isStream(JsonNode node) {
    return node.path("typename").asText().endsWith("Stream");
  }

  public static boolean isGlobal(JsonNode node) {
    return node.path("global").asBoolean(false);
  }

  public static long instanceId(JsonNode node) {
    return node.path("instance_id").asLong(-1);
  }

  /** Every non-empty blob of the tree, once each, in the order they first appear. */
  public static Map<Long, BlobRef> blobs(JsonNode tree) {
    Map<Long, BlobRef> blobs = new LinkedHashMap<>();
    collect(tree, blobs);
    return blobs;
  }

  private static void collect(JsonNode node, Map<Long, BlobRef> blobs) {
    if (isMember(node) && isBlob(node)) {
      long id = id(node);
      if (!ObjectIds.isEmptyBlob(id)) {
        blobs.putIfAbsent(id, new BlobRef(id, instanceId(node)));
      }
      return;
    }
    for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
      JsonNode child = it.next();
      if (child.isObject()) {
        collect(child, blobs);
      }
    }
  }

  static String abbreviate(JsonNode node) {
    String text = node.toString();
    return text.length() > 200 ? text.substring(0, 200) + "..." : text;
  }
}
