package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * vineyardd's cluster_meta, cached for {@link #TTL_NANOS} per instance: vineyardd answers it slowly
 * (it asks its metadata backend), and membership changes far more rarely than objects move.
 */
final class ClusterMetaCache {
  private static final long TTL_NANOS = 2_000_000_000L;
  private static final Map<String, CachedMeta> CACHE = new ConcurrentHashMap<>();

  private record CachedMeta(JsonNode meta, long at) {}

  private ClusterMetaCache() {}

  static JsonNode get(FramedConnection connection, long instanceId) {
    String key = connection.peer() + "#" + instanceId;
    CachedMeta cached = CACHE.get(key);
    long now = System.nanoTime();
    if (cached != null && now - cached.at() < TTL_NANOS) {
      return cached.meta();
    }
    JsonNode meta = connection.call(FrameCodec.newMessage("cluster_meta"), "cluster_meta").path("meta");
    CACHE.put(key, new CachedMeta(meta, now));
    return meta;
  }
}
