package io.v6d.migrate.cluster;

import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationPlan;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The size of every blob of a global object's chunks. vineyardd's metadata does not carry a
 * blob's length (it says 0), so each holder is asked: through its IPC socket when it is on this
 * host (one get_buffers request per holder), else through the engine's plan of each chunk held
 * there (the chunk's source agent or RPC port answers).
 */
final class BlobSizes {
  private BlobSizes() {}

  static Map<Long, Long> of(GlobalChunks global, MigrationRequest base, long timeoutMillis) {
    Map<Long, List<Long>> byHolder = new HashMap<>();
    Map<Long, List<Long>> chunksByHolder = new HashMap<>();
    for (GlobalChunks.Member member : global.members) {
      for (BlobRef blob : MetaTree.blobs(global.tree.get(member.field())).values()) {
        byHolder.computeIfAbsent(blob.instanceId(), k -> new ArrayList<>()).add(blob.id());
        chunksByHolder.computeIfAbsent(blob.instanceId(), k -> new ArrayList<>()).add(member.chunk().id());
      }
    }
    Map<Long, Long> sizes = new HashMap<>();
    for (Map.Entry<Long, List<Long>> entry : byHolder.entrySet()) {
      GlobalChunks.Instance holder = global.cluster.get(entry.getKey());
      if (holder != null && holder.socketHere()) {
        try (ClientPool.Lease lease = ClientPool.current().ipc(holder.ipcSocket(), timeoutMillis)) {
          VineyardClient client = lease.client();
          Map<Long, Blob> got = client.getBuffers(entry.getValue());
          got.values().forEach(blob -> sizes.put(blob.id(), blob.size()));
          client.release(got.keySet()); // a pooled connection must not keep the blobs alive
          lease.keep();
        }
      } else {
        for (long chunk : chunksByHolder.get(entry.getKey()).stream().distinct().toList()) {
          MigrationPlan plan = new MigrationEngine().plan(new MigrationRequest(ObjectIds.format(chunk), base.target(),
              null, null, false, base.transport(), base.tokenFile(), base.tcp(), false, base.timeoutMillis()));
          plan.blobs().stream().filter(b -> b.size() >= 0).forEach(b -> sizes.put(b.id(), b.size()));
        }
      }
    }
    return sizes;
  }
}
