package io.v6d.migrate.cluster;

import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.ToLocal;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.rebalance.RankShares;
import io.v6d.migrate.rebalance.RebalancePlanner.Chunk;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code migrate_to_local(policy="balanced")}: the rank's share balanced by bytes, preferring chunks
 * already on the rank's instance (see {@link RankShares}), gathered onto the target.
 */
public final class BalancedToLocal {
  private BalancedToLocal() {}

  public static List<Long> run(MigrationRequest request, int replica, int rank) {
    List<RankShares.RankChunk> chunks = new ArrayList<>();
    try (ClientPool.Lease lease = ClientPool.current().ipc(request.target(), request.timeoutMillis())) {
      VineyardClient target = lease.client();
      GlobalChunks global = new GlobalChunks(target, request.object());
      var nodes = target.clusterMeta();
      for (Chunk c : global.chunks(request)) {
        chunks.add(new RankShares.RankChunk(c.id(), c.bytes(), c.instance(),
            nodes.path("i" + c.instance()).path("nodename").asText("")));
      }
      lease.keep(); // metadata only: it pins nothing
    }
    return ToLocal.migrateShare(request, RankShares.share(chunks, replica, rank));
  }
}
