package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.PreparedCommit;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Collection;
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

  /** True when {@code global} is a persisted object linking every one of {@code copies} (see {@link PreparedCommit#committed}). */
  static boolean persistedWith(VineyardClient vineyard, long global, Collection<Long> copies) {
    return PreparedCommit.committed(vineyard, global, copies);
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
    return PreparedCommit.persistedTree(vineyard, global) != null;
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
