package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What a prepared pull session's agent decides alone when its peer (the rebalancing caller) left
 * before the commit: keep its copies exactly when the global object the peer announced
 * ({@code pull_prepare}) is persisted in the cluster and links every copy as a member. A peer
 * cannot keep them by naming some unrelated object: the announced one must not be persisted yet
 * when announced (vineyardd resolves an existing global object's members to this instance's
 * replicas, so an old one would seem to link the copies), and must link them once persisted.
 */
final class PreparedGlobal {
  private PreparedGlobal() {}

  /** True when {@code global} is a persisted object whose direct members include every one of {@code copies}. */
  static boolean persistedWith(VineyardClient vineyard, long global, Collection<Long> copies) {
    JsonNode tree = persistedTree(vineyard, global);
    if (tree == null) {
      return false;
    }
    Set<Long> members = new HashSet<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = tree.fields(); it.hasNext(); ) {
      JsonNode value = it.next().getValue();
      if (MetaTree.isMember(value)) {
        members.add(MetaTree.id(value));
      }
    }
    return members.containsAll(copies);
  }

  /**
   * Waits up to {@code settleMillis} (asking every 200 ms, on a connection of its own) for
   * {@link #persistedWith}: a peer's last persist may still be on its way through its vineyardd and
   * etcd when its connection closes. False when it is not seen in time (or the wait is interrupted).
   */
  static boolean awaitPersistedWith(Supplier<VineyardClient> connect, long global, Collection<Long> copies,
      long settleMillis) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settleMillis);
    try (VineyardClient check = connect.get()) {
      while (!persistedWith(check, global, copies)) {
        if (System.nanoTime() - deadline >= 0) {
          return false;
        }
        Thread.sleep(200);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** True when {@code global} is a persisted object of the cluster. */
  static boolean persisted(VineyardClient vineyard, long global) {
    return persistedTree(vineyard, global) != null;
  }

  private static JsonNode persistedTree(VineyardClient vineyard, long global) {
    JsonNode tree;
    try {
      tree = vineyard.getData(global, true);  // synced from etcd: the caller's instance may be another
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS) {
        return null;
      }
      throw e;
    }
    // unpersisted: visible here only when the caller used this very vineyardd
    return tree.path("transient").asBoolean(true) ? null : tree;
  }

  /** The id a {@code pull_prepare} names: an object, not a blob. */
  static long parse(JsonNode request) {
    long id = ObjectIds.parse(request.path("global").asText(""));
    if (ObjectIds.isBlob(id)) {
      throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(id) + " is a blob: pull_prepare names the "
          + "global object that will link the copies");
    }
    return id;
  }
}
