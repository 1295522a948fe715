package io.v6d.migrate.cluster;

import io.v6d.migrate.ipc.VineyardClient;

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
      try (VineyardClient client = VineyardClient.connect(holder.ipcSocket(), timeoutMillis)) {
        client.delete(java.util.List.of(id), false, true);
      }
    } else {
      throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.INVALID, "cannot delete "
          + io.v6d.migrate.meta.ObjectIds.format(id) + ": the IPC socket of instance " + holder.id()
          + " is not on this host");
    }
  }
}
