package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.transport.ProgressListener;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * {@code migrate_to_local}: one rank's share of a global object, gathered onto the rank's instance,
 * with the original tool's rule: the chunks (direct members) sorted by the node name of the instance
 * holding them, then by id; the share of rank {@code r} is chunks {@code [r*k, (r+1)*k)} where
 * {@code k = n / replica} (true division) plus one when {@code replica} does not divide {@code n}.
 */
public final class ToLocal {
  private ToLocal() {}

  /** The chunks of {@code rank}, in the rule's order (pure). */
  public static List<Long> share(List<Chunk> chunks, int replica, int rank) {
    if (replica < 1 || rank < 0 || rank >= replica) {
      throw new MigrateException(ErrorCode.INVALID, "rank must be in [0, replica), and replica at least 1; got rank "
          + rank + " of " + replica);
    }
    List<Chunk> sorted = new ArrayList<>(chunks);
    sorted.sort(Comparator.comparing(Chunk::node).thenComparing(c -> ObjectIds.format(c.id())));
    int n = sorted.size();
    double perRank = (double) n / replica + (n % replica == 0 ? 0 : 1);
    List<Long> share = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (perRank * rank <= i && i < perRank * (rank + 1)) {
        share.add(sorted.get(i).id());
      }
    }
    return share;
  }

  /** A chunk of a global object and the node name of the instance that holds it. */
  public record Chunk(long id, String node) {}

  /** Migrates the share of {@code rank} to the target instance; returns the local ids, in order. */
  public static List<Long> run(MigrationRequest request, int replica, int rank) {
    List<Chunk> chunks = new ArrayList<>();
    try (ClientPool.Lease lease = ClientPool.current().ipc(request.target(), request.timeoutMillis())) {
      VineyardClient target = lease.client();
      lease.keep(); // metadata requests only
      long id = ObjectIds.looksLikeId(request.object()) ? ObjectIds.parse(request.object()) : target.getName(request.object());
      JsonNode tree = target.getData(id, true);
      if (!MetaTree.isGlobal(tree)) {
        throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(id) + " is not a global object");
      }
      JsonNode cluster = target.clusterMeta();
      for (Iterator<Map.Entry<String, JsonNode>> it = tree.fields(); it.hasNext(); ) {
        JsonNode member = it.next().getValue();
        if (MetaTree.isMember(member)) {
          String node = cluster.path("i" + MetaTree.instanceId(member)).path("nodename").asText("");
          chunks.add(new Chunk(MetaTree.id(member), node));
        }
      }
    }
    return migrateShare(request, share(chunks, replica, rank));
  }

  /** Migrates a share's chunks to the request's target as one batch (all or none); the local ids, in order. */
  public static List<Long> migrateShare(MigrationRequest request, List<Long> share) {
    List<MigrationRequest> parts = new ArrayList<>();
    for (long chunk : share) {
      parts.add(request.forPart(ObjectIds.format(chunk), null, request.persist()));
    }
    // one batch: all of the share or none of it
    return new MigrationEngine().migrateMany(parts, ProgressListener.NONE).stream().map(MigrationResult::targetId).toList();
  }
}
