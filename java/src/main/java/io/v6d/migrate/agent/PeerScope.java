package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.metrics.AgentMetrics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one connection may read, and what it has mapped. A peer never maps a blob id it picked
 * itself: it names an object (or opens a stream), the agent resolves that object's tree from its
 * own vineyardd, and only the blobs of that tree -- or chunks the stream gave this client -- may be
 * mapped and READ. A bare blob id is not an object a peer may name, unless a stream of this client
 * handed it out. Permissions are shared with the client's other connections ({@link Grants}).
 */
final class PeerScope implements AutoCloseable {
  private final Grants grants;
  private final Map<Long, Blob> mapped = new ConcurrentHashMap<>();
  private volatile Grants.Grant grant;
  private boolean owner;

  PeerScope(Grants grants) {
    this.grants = grants;
  }

  /** This connection's grant id (created on first use), for the client's other connections to join. */
  String grantId() {
    return grant().id;
  }

  /** Shares the permissions of grant {@code id}; only a connection that has none of its own may join. */
  void join(String id) {
    Grants.Grant joined = grants.get(id);
    if (grant != null && grant != joined) {
      throw new MigrateException(ErrorCode.INVALID, "this connection already has a grant of its own");
    }
    grant = joined;
  }

  /**
   * Permits the blobs of object {@code root}, which the agent resolves itself (its own instance's
   * view first, then the cluster's). A blob id is permitted only as a chunk a stream gave us.
   * {@code knownTree}: the tree of {@code root} when the agent has just read it from its own
   * vineyardd (the peer's "meta" before its "map"; an object's tree never changes), else null.
   */
  void permitObject(VineyardClient vineyard, long root, JsonNode knownTree) {
    Grants.Grant g = grant();
    if (ObjectIds.isBlob(root)) {
      if (!g.chunks.contains(root)) {
        throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(root) + " is a blob: the agent serves blobs "
            + "only as members of an object, or chunks of a stream, the peer named");
      }
      return;
    }
    if (g.roots.contains(root)) {
      return;
    }
    JsonNode tree = knownTree;
    try {
      tree = tree != null ? tree : vineyard.getData(root, false);
    } catch (MigrateException e) {
      if (e.code() != ErrorCode.OBJECT_NOT_EXISTS) {
        throw e;
      }
      tree = vineyard.getData(root, true);
    }
    g.blobs.addAll(MetaTree.blobs(tree).keySet());
    g.roots.add(root);
  }

  /**
   * {@link #permitObject} of many objects, their trees read in one request (two when some are
   * only in the cluster's view); {@code knownTrees}: trees the agent has just read from its own
   * vineyardd for this peer (its "metas"), used as they are.
   */
  void permitObjects(VineyardClient vineyard, List<Long> roots, Map<Long, JsonNode> knownTrees) {
    Grants.Grant g = grant();
    Map<Long, JsonNode> trees = new java.util.HashMap<>();
    java.util.Set<Long> asked = new java.util.LinkedHashSet<>();
    for (long root : roots) {
      if (ObjectIds.isBlob(root) || g.roots.contains(root)) {
        permitObject(vineyard, root, null); // a stream's chunk, or known: no request
      } else if (MetaTree.isTree(knownTrees.get(root))) {
        trees.put(root, knownTrees.get(root));
      } else {
        asked.add(root);
      }
    }
    if (!asked.isEmpty()) {
      trees.putAll(vineyard.getDatas(asked, false));
      List<Long> remote = asked.stream().filter(id -> !MetaTree.isTree(trees.get(id))).toList();
      if (!remote.isEmpty()) {
        trees.putAll(vineyard.getDatas(remote, true));
      }
    }
    for (long root : asked) {
      if (!MetaTree.isTree(trees.get(root))) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "object " + ObjectIds.format(root)
            + " does not exist on the agent's instance or its cluster");
      }
    }
    for (Map.Entry<Long, JsonNode> entry : trees.entrySet()) {
      g.blobs.addAll(MetaTree.blobs(entry.getValue()).keySet());
      g.roots.add(entry.getKey());
    }
  }

  /**
   * Maps permitted blobs for this connection's READs; returns their sizes. A blob this connection
   * has mapped already is not asked for again (one reference on vineyardd, released by one unmap).
   */
  Map<Long, Long> map(VineyardClient vineyard, List<Long> ids) {
    Grants.Grant g = grant();
    List<Long> fresh = new java.util.ArrayList<>();
    for (long id : ids) {
      if (!g.blobs.contains(id)) {
        throw new MigrateException(ErrorCode.INVALID, "blob " + ObjectIds.format(id)
            + " is not part of an object (or stream) this connection named");
      }
      if (!mapped.containsKey(id)) {
        fresh.add(id);
      }
    }
    if (!fresh.isEmpty()) {
      vineyard.getBuffers(fresh).forEach((id, blob) -> {
        if (mapped.put(id, blob) == null) {
          AgentMetrics.blobsMapped(1);
        }
      });
    }
    Map<Long, Long> sizes = new LinkedHashMap<>();
    for (long id : ids) {
      Blob blob = mapped.get(id);
      if (blob != null) {
        sizes.put(id, blob.size());
      }
    }
    return sizes;
  }

  /**
   * Unmaps blobs; a stream chunk released is no longer readable by the client. The references go
   * back to vineyardd pipelined (one round trip per window, not one per blob: a batch's thousand
   * synchronous releases kept this connection's thread and vineyardd busy after every batch).
   */
  void unmap(VineyardClient vineyard, List<Long> ids) {
    List<Long> held = new java.util.ArrayList<>();
    for (long id : ids) {
      if (mapped.remove(id) != null) {
        held.add(id);
      }
      chunkWithdrawn(id);
    }
    AgentMetrics.blobsMapped(-held.size());
    vineyard.release(held);
  }

  /**
   * Drops the objects this connection's grant named, and their blobs (not the chunks a stream gave
   * it): a client that keeps its connections between migrations names each migration's object anew.
   */
  void forgetObjects() {
    if (grant != null) {
      grant.roots.clear();
      grant.blobs.retainAll(grant.chunks);
    }
  }

  /** The mapping READs of blob {@code id} are served from, or null when this connection has none. */
  Blob mapped(long id) {
    return mapped.get(id);
  }

  void streamOpened(long streamId) {
    grant().streams.add(streamId);
  }

  void requireStream(long streamId) {
    if (!grant().streams.contains(streamId)) {
      throw new MigrateException(ErrorCode.INVALID, "stream " + ObjectIds.format(streamId)
          + " was not opened by this client");
    }
  }

  /** A chunk the stream gave this client: a blob chunk becomes readable, an object chunk nameable. */
  void chunkDelivered(long chunk) {
    Grants.Grant g = grant();
    g.chunks.add(chunk);
    if (ObjectIds.isBlob(chunk)) {
      g.blobs.add(chunk);
    }
  }

  /** A chunk released, or one the client never learned of (its stream_next failed): no longer readable. */
  void chunkWithdrawn(long chunk) {
    if (grant != null && grant.chunks.remove(chunk)) {
      grant.blobs.remove(chunk);
    }
  }

  private Grants.Grant grant() {
    if (grant == null) {
      grant = grants.create();
      owner = true;
    }
    return grant;
  }

  @Override
  public void close() {
    AgentMetrics.blobsMapped(-mapped.size()); // their references go with the connection to vineyardd
    mapped.clear();
    if (owner) {
      grants.remove(grant);
    }
  }
}
