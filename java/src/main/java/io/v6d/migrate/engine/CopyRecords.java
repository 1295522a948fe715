package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.List;
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
public final class CopyRecords {
  public static final String FIELD = "__vineyard_migrate_copy_of";
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
  public static String tag(String sourceKey, ObjectNode tree) {
    return sourceKey + " " + ObjectIds.format(MetaTree.id(tree)) + " "
        + Long.toUnsignedString(tree.path("signature").asLong(0), 16);
  }

  /**
   * {@link #find} for many objects (their typenames and tags, in order): the copies this process
   * knows are checked in one request; the target is searched (when enabled) once per typename.
   * Returns the copy of each, or -1.
   */
  public static long[] findAll(VineyardClient target, List<String> typenames, List<String> tags) {
    long[] found = new long[tags.size()];
    java.util.Arrays.fill(found, -1);
    Long[] known = new Long[tags.size()];
    for (int i = 0; i < tags.size(); i++) {
      known[i] = KNOWN.get(key(target, tags.get(i)));
    }
    java.util.Set<Long> asked = new java.util.HashSet<>(java.util.Arrays.asList(known));
    asked.remove(null);
    Map<Long, JsonNode> existing = asked.isEmpty() ? Map.of() : target.getDatas(asked, false);
    for (int i = 0; i < tags.size(); i++) {
      if (known[i] != null && MetaTree.isTree(existing.get(known[i]))) {
        found[i] = known[i];
      } else if (known[i] != null) {
        KNOWN.remove(key(target, tags.get(i)), known[i]);
      }
    }
    if (SEARCH_TARGET) {
      Map<String, Map<String, Long>> byTypename = new java.util.HashMap<>();
      for (int i = 0; i < tags.size(); i++) {
        if (found[i] == -1) {
          Map<String, Long> copies = byTypename.computeIfAbsent(typenames.get(i), t -> copiesOfType(target, t));
          Long copy = copies.get(tags.get(i));
          if (copy != null) {
            remember(target, tags.get(i), copy);
            found[i] = copy;
          }
        }
      }
    }
    return found;
  }

  /** The tagged copies among the target's objects of {@code typename}, by tag. */
  private static Map<String, Long> copiesOfType(VineyardClient target, String typename) {
    Map<String, Long> copies = new java.util.HashMap<>();
    target.listData(typename, Integer.MAX_VALUE).forEach((id, content) -> {
      if (content.hasNonNull(FIELD) && content.path("instance_id").asLong(-1) == target.instanceId()
          && typename.equals(content.path("typename").asText())) {
        copies.putIfAbsent(content.path(FIELD).asText(), id);
      }
    });
    return copies;
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
  public static void remember(VineyardClient target, String tag, long copy) {
    if (KNOWN.size() >= REMEMBERED) {
      KNOWN.clear(); // a cache: the tags on the target are the record
    }
    KNOWN.put(key(target, tag), copy);
  }

  private static String key(VineyardClient target, String tag) {
    return target.ipcSocket() + "#" + target.instanceId() + "#" + tag;
  }
}
