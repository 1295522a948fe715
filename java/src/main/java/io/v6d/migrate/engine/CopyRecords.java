package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What makes migration idempotent, as vineyard's own {@code client.migrate} is: the copy's root
 * carries a tag ({@value #FIELD}) naming what it is a copy of, so that any process that migrates
 * the same object to the same instance later finds it (among the target's objects of that
 * typename) and returns it. The tag is part of the copy: it is journaled and rolled back with it,
 * and deleting the copy deletes it, after which the object is copied again.
 *
 * <p>The tag names the source instance (its cluster, when the target is in it; else its IPC socket
 * and RPC endpoint), the object id and its signature (ids of independent instances may repeat).
 * Copies found are remembered in this process, so that migrating again costs one request.
 */
final class CopyRecords {
  static final String FIELD = "__vineyard_migrate_copy_of";
  private static final int REMEMBERED = 4096;
  private static final Map<String, Long> KNOWN = new ConcurrentHashMap<>();
  /**
   * Whether to search the target for copies other processes made ({@code -Dio.v6d.migrate.findCopies=target});
   * off by default, because that search lists every object of the copy's typename the target sees
   * (in an etcd cluster, the whole cluster's): about 300 ms a call with 10,000 arrays in the cluster.
   */
  private static final boolean SEARCH_TARGET =
      "target".equals(System.getProperty("io.v6d.migrate.findCopies", "process"));

  private CopyRecords() {}

  /** The tag of {@code tree} (the source object) coming from {@code sourceKey}. */
  static String tag(String sourceKey, ObjectNode tree) {
    return sourceKey + " " + ObjectIds.format(MetaTree.id(tree)) + " "
        + Long.toUnsignedString(tree.path("signature").asLong(0), 16);
  }

  /** The copy an earlier migration made on {@code target}, if it is still there. */
  static OptionalLong find(VineyardClient target, ObjectNode tree, String tag) {
    String key = key(target, tag);
    Long known = KNOWN.get(key);
    if (known != null) {
      if (target.exists(known)) {
        return OptionalLong.of(known);
      }
      KNOWN.remove(key, known);
    }
    if (!SEARCH_TARGET) {
      return OptionalLong.empty();
    }
    String typename = tree.path("typename").asText("");
    for (Map.Entry<Long, JsonNode> object : target.listData(typename, Integer.MAX_VALUE).entrySet()) {
      JsonNode content = object.getValue();
      if (tag.equals(content.path(FIELD).asText()) && content.path("instance_id").asLong(-1) == target.instanceId()
          && typename.equals(content.path("typename").asText())) {
        remember(target, tag, object.getKey());
        return OptionalLong.of(object.getKey());
      }
    }
    return OptionalLong.empty();
  }

  /** {@code copy} on {@code target} is tagged {@code tag}. */
  static void remember(VineyardClient target, String tag, long copy) {
    if (KNOWN.size() >= REMEMBERED) {
      KNOWN.clear(); // a cache: the tags on the target are the record
    }
    KNOWN.put(key(target, tag), copy);
  }

  private static String key(VineyardClient target, String tag) {
    return target.ipcSocket() + "#" + target.instanceId() + "#" + tag;
  }
}
