package io.v6d.migrate.cluster;

import io.v6d.migrate.pool.ClientPool;

/** Deleting a chunk on the instance that holds it (its blobs are freed there). */
final class Deletion {
  private Deletion() {}

  /**
   * Deletes {@code id} and the members nothing else refers to (vineyard's deep delete without
   * force: a blob shared with another object stays), through the holder's IPC socket when it is
   * here; else through any instance of the cluster ({@code fallback}).
   */
  static void deleteChunk(GlobalChunks.Instance holder, long id, long timeoutMillis) {
    if (holder.socketHere()) {
      try (ClientPool.Lease lease = ClientPool.current().ipc(holder.ipcSocket(), timeoutMillis)) {
        lease.client().delete(java.util.List.of(id), false, true);
        lease.keep();
      }
    } else {
      throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.INVALID, "cannot delete "
          + io.v6d.migrate.meta.ObjectIds.format(id) + ": the IPC socket of instance " + holder.id()
          + " is not on this host");
    }
  }
}
