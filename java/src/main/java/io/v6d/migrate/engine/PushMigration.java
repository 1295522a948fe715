package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFuture;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.BlobRef;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.protocol.Token;
import io.v6d.migrate.tcp.AgentConnection;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.tcp.AgentLink;
import io.v6d.migrate.tcp.ChunkWriter;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ChunkPlan;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.ThrottledProgress;
import java.nio.file.Path;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Pushes an object from a vineyardd on this host to the agent beside the target vineyardd: the
 * agent allocates the target blobs ("begin"), DATA frames stream from the source's shared memory
 * over one or more connections, and the agent seals them and rebuilds the metadata ("commit"),
 * or, on any failure, frees everything it created.
 */
final class PushMigration {
  private final List<MigrationRequest> requests;
  /** Options every request shares (the first's). */
  private final MigrationRequest request;

  PushMigration(MigrationRequest request) {
    this(List.of(request));
  }

  /** A batch: all or nothing on the agent's side (one push session, committed once). */
  PushMigration(List<MigrationRequest> requests) {
    this.requests = requests;
    this.request = requests.get(0);
  }

  /** One object of the push: what it is and what becomes of it. */
  private static final class Item {
    final MigrationRequest request;
    final int index;
    long id;
    ObjectNode tree;
    boolean onTarget;
    String tag;
    long earlierCopy = -1;
    final List<Long> pushed = new ArrayList<>();
    final List<Long> reusedIds = new ArrayList<>();

    Item(MigrationRequest request, int index) {
      this.request = request;
      this.index = index;
    }
  }

  MigrationResult run(ProgressListener progress) {
    return runAll(progress).get(0);
  }

  List<MigrationResult> runAll(ProgressListener progress) {
    long started = System.nanoTime();
    try (Prepared p = prepare()) {
      List<Item> created = p.items.stream().filter(i -> !i.onTarget && i.earlierCopy == -1).toList();
      List<Item> adopted = p.items.stream().filter(i -> !i.onTarget && i.earlierCopy != -1).toList();
      long[] newIds = new long[p.items.size()];
      p.items.forEach(i -> newIds[i.index] = i.onTarget ? i.id : i.earlierCopy);
      long total = p.mapped.values().stream().mapToLong(Blob::size).sum();
      long onWire = 0;
      if (created.isEmpty() && adopted.isEmpty()) {
        p.lease.keep(); // no session began: the link holds nothing of this call
      } else {
        Map<Long, Long> newBlobIds = new LinkedHashMap<>();
        ObjectNode begin = FrameCodec.mapper().createObjectNode();
        begin.putArray("blobs");
        p.mapped.values().forEach(b -> begin.withArray("blobs").addArray().add(ObjectIds.format(b.id())).add(b.size()));
        EngineCall.checkpoint();
        JsonNode session = p.primary.call("begin", begin);
        String sessionId = session.path("session").asText();
        List<AgentConnection> extra = new ArrayList<>();
        try {
          session.path("blobs").fields().forEachRemaining(e ->
              newBlobIds.put(ObjectIds.parse(e.getKey()), ObjectIds.parse(e.getValue().asText())));
          EngineCall.interruptibly(() -> send(p.endpoint, p.link, p.primary, sessionId, p.mapped, newBlobIds, extra,
              new ThrottledProgress(progress, total, 50_000_000L)));
          JsonNode committed = p.primary.call("commit", commitRequest(sessionId, p.sameCluster, created, adopted, newBlobIds));
          for (int k = 0; k < created.size(); k++) {
            newIds[created.get(k).index] = ObjectIds.parse(committed.path("object_ids").path(k).asText());
          }
          onWire = p.primary.sent() - p.sentBefore + extra.stream().mapToLong(AgentConnection::sent).sum();
          p.lease.keep(); // committed: the agent holds nothing of this push for the link any more
        } catch (MigrateException e) {
          abort(p.primary, sessionId);
          throw requests.size() == 1 ? e : new MigrateException(e.code(), "a batch of " + requests.size()
              + " objects pushed to " + request.target() + " failed (nothing of the batch is left on the target): "
              + e.getMessage(), e);
        } catch (RuntimeException e) {
          abort(p.primary, sessionId);
          throw e;
        } finally {
          // kept open until the commit: an attached connection that closes early fails the session.
          // The writes read the source's shared memory, so they close before the source is unmapped.
          extra.forEach(AgentConnection::close);
        }
      }
      double seconds = MigrationEngine.seconds(started);
      List<MigrationResult> results = new ArrayList<>();
      for (Item item : p.items) {
        if (item.onTarget || item.earlierCopy != -1) {
          results.add(new MigrationResult(item.id, newIds[item.index], 0, 0, 0, seconds, "none"));
        } else {
          long bytes = item.pushed.stream().mapToLong(b -> p.mapped.get(b).size()).sum();
          results.add(new MigrationResult(item.id, newIds[item.index], item.pushed.size(), item.reusedIds.size(), bytes, seconds,
              "tcp-push", BatchMigration.shareOf(new BlobTransport.Wire(onWire, "", false), bytes, total).bytes(),
              p.primary.compression().label(), p.primary.tls()));
        }
      }
      return results;
    }
  }

  /**
   * The commit of a push: the objects to create (tree, copy tag, persist, name) and the earlier
   * copies to adopt (persist, name), with the blob mapping of the whole session.
   */
  private static ObjectNode commitRequest(String sessionId, boolean sameCluster, List<Item> created, List<Item> adopted,
      Map<Long, Long> newBlobIds) {
    ObjectNode commit = FrameCodec.mapper().createObjectNode().put("session", sessionId).put("same_cluster", sameCluster);
    ArrayNode objects = commit.putArray("objects");
    for (Item item : created) {
      ObjectNode object = objects.addObject().put("tag", item.tag).put("persist", item.request.persist());
      object.set("tree", item.tree);
      // per object: a reused blob of the target and a pushed one of the source may share an id
      ObjectNode blobs = object.putObject("blobs");
      item.reusedIds.forEach(id -> blobs.put(ObjectIds.format(id), ObjectIds.format(id)));
      item.pushed.forEach(id -> blobs.put(ObjectIds.format(id), ObjectIds.format(newBlobIds.get(id))));
      if (item.request.name() != null) {
        object.put("name", item.request.name()).put("overwrite_name", item.request.overwriteName());
      }
    }
    ArrayNode adopts = commit.putArray("adopt");
    for (Item item : adopted) {
      ObjectNode copy = adopts.addObject().put("id", ObjectIds.format(item.earlierCopy)).put("tag", item.tag)
          .put("persist", item.request.persist());
      if (item.request.name() != null) {
        copy.put("name", item.request.name()).put("overwrite_name", item.request.overwriteName());
      }
    }
    return commit;
  }

  MigrationPlan plan() {
    try (Prepared p = prepare()) {
      Item item = p.items.get(0);
      if (item.onTarget) {
        return new MigrationPlan(item.id, true, List.of(), 0);
      }
      List<MigrationPlan.Blob> blobs = new ArrayList<>();
      item.reusedIds.forEach(id -> blobs.add(new MigrationPlan.Blob(id, -1, p.targetInstance, "reuse", "none")));
      p.mapped.values().forEach(b -> blobs.add(
          new MigrationPlan.Blob(b.id(), b.size(), p.source.instanceId(), "copy", "tcp-push")));
      return new MigrationPlan(item.id, false, blobs, p.mapped.values().stream().mapToLong(Blob::size).sum(),
          p.primary.compression().label(), p.primary.tls());
    }
  }

  /**
   * The source, the target agent, the objects, their earlier copies and which of their blobs would
   * be pushed: one request for the trees, one for what the target has, one for earlier copies, one
   * to map the blobs, whatever the number of objects.
   */
  private Prepared prepare() {
    if (request.source() == null || request.source().contains("://")) {
      throw new MigrateException(ErrorCode.INVALID,
          "pushing to an agent needs the source vineyardd's IPC socket on this host: pass source=<socket path>");
    }
    if (request.transport() != TransportChoice.AUTO && request.transport() != TransportChoice.TCP) {
      throw new MigrateException(ErrorCode.INVALID, "a target agent (" + request.target() + ") is reached by transport 'tcp'");
    }
    Prepared p = new Prepared();
    try {
      p.endpoint = AgentEndpoint.parse(request.target());
      p.token = Token.load(request.tokenFile() == null ? null : Path.of(request.tokenFile()));
      p.source = ClientSource.ipc(ClientPool.current().ipc(request.source(), request.timeoutMillis()));
      p.lease = ClientPool.current().agent(p.endpoint, p.token, request.tcp(), request.timeoutMillis());
      p.link = p.lease.link();
      JsonNode info = p.link.info(); // the first request: a stale pooled link reconnects here, once
      p.primary = p.link.primary();
      p.sentBefore = p.primary.sent();
      p.targetInstance = info.path("instance_id").asLong();
      p.sameCluster = SourceSet.isMember(p.source.clusterMeta(), p.targetInstance,
          info.path("ipc_socket").asText(), info.path("rpc_endpoint").asText());
      for (int i = 0; i < requests.size(); i++) {
        Item item = new Item(requests.get(i), i);
        item.id = named(item, () -> SourceSet.resolveId(p.source, item.request.object(), "the source"));
        p.items.add(item);
      }
      readTrees(p);
      planBlobs(p);
      p.mapped = p.source.client().getBuffers(new ArrayList<>(p.pushed));
      return p;
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
  }

  /** The trees (one request, two in a cluster), which objects the target has, and their earlier copies. */
  private void readTrees(Prepared p) {
    Set<Long> ids = new LinkedHashSet<>();
    p.items.forEach(i -> ids.add(i.id));
    Map<Long, ObjectNode> trees;
    try {
      trees = SourceGroup.readTrees(p.source, p.sameCluster, ids);
    } catch (MigrateException e) {
      throw named(e, p.items.stream().filter(i -> e.getMessage().contains(ObjectIds.format(i.id))).findFirst().orElse(null));
    }
    Map<Long, JsonNode> onTarget = new HashMap<>();
    if (!p.sameCluster) {
      ObjectNode asked = FrameCodec.mapper().createObjectNode().put("sync_remote", false);
      ids.forEach(id -> asked.withArray("ids").add(ObjectIds.format(id)));
      p.primary.call("metas", asked).path("trees").fields()
          .forEachRemaining(e -> onTarget.put(ObjectIds.parse(e.getKey()), e.getValue()));
    }
    String sourceKey = SourceGroup.sourceKey(p.sameCluster, p.source);
    for (Item item : p.items) {
      item.tree = trees.get(item.id);
      named(item, () -> {
        SourceSet.refuseStream(item.tree);
        return null;
      });
      item.onTarget = SourceSet.alreadyOn(item.tree, p.targetInstance, p.sameCluster,
          () -> MetaTree.isTree(onTarget.get(item.id)));
      item.tag = CopyRecords.tag(sourceKey, item.tree);
    }
    List<Item> mayReuse = p.items.stream().filter(i -> !i.onTarget && !i.request.copy()).toList();
    if (!mayReuse.isEmpty()) {
      // the agent claims the copies it does not find (see CopyClaims), waiting for other processes'
      // for at most half of this call's timeout, so that its answer comes before the timeout
      ObjectNode asked = FrameCodec.mapper().createObjectNode().put("claim", true)
          .put("wait_ms", request.timeoutMillis() / 2);
      ArrayNode list = asked.putArray("items");
      mayReuse.forEach(i -> list.addObject().put("tag", i.tag));
      JsonNode copies = p.primary.call("copies", asked).path("copies");
      for (int k = 0; k < mayReuse.size(); k++) {
        JsonNode copy = copies.path(k);
        mayReuse.get(k).earlierCopy = copy.isTextual() ? ObjectIds.parse(copy.asText()) : -1;
      }
    }
  }

  /** Names refused early; each object's blobs reused (on the target already) or pushed (from the source). */
  private void planBlobs(Prepared p) {
    AgentConnection agent = p.primary;
    for (Item item : p.items) {
      if (item.onTarget || item.earlierCopy != -1) {
        continue;
      }
      named(item, () -> {
        TargetBuild.refuseTakenName(item.request.name(), item.request.overwriteName(), name -> ObjectIds.parse(agent.call(
            "name", FrameCodec.mapper().createObjectNode().put("name", name)).path("id").asText()));
        for (BlobRef blob : MetaTree.blobs(item.tree).values()) {
          if (p.sameCluster && blob.instanceId() == p.targetInstance) {
            item.reusedIds.add(blob.id());
          } else if (!p.sameCluster || blob.instanceId() == p.source.instanceId()) {
            p.pushed.add(blob.id());
            item.pushed.add(blob.id());
          } else {
            throw new MigrateException(ErrorCode.NOT_IMPLEMENTED, "blob " + ObjectIds.format(blob.id())
                + " lives on instance " + blob.instanceId() + ", neither the source nor the target: push from there");
          }
        }
        return null;
      });
    }
  }

  private <T> T named(Item item, java.util.function.Supplier<T> step) {
    try {
      return step.get();
    } catch (MigrateException e) {
      throw named(e, item);
    }
  }

  private MigrateException named(MigrateException e, Item item) {
    return item == null || requests.size() == 1 ? e : MigrationEngine.inBatch(e, item.request, item.index, requests.size());
  }

  /** A push being prepared; closes the agent connection before the source (whose memory it reads). */
  private static final class Prepared implements AutoCloseable {
    AgentEndpoint endpoint;
    byte[] token;
    ClientSource source;
    AgentLink.Lease lease;
    AgentLink link;
    AgentConnection primary;
    long sentBefore;
    long targetInstance;
    boolean sameCluster;
    final List<Item> items = new ArrayList<>();
    final Set<Long> pushed = new LinkedHashSet<>();
    Map<Long, Blob> mapped = Map.of();

    @Override
    public void close() {
      if (lease != null) {
        lease.close(); // pooled only when the push committed; closing it first stops its writes
      }
      if (source != null) {
        try {
          source.client().release(mapped.keySet()); // a pooled source connection must pin nothing
        } catch (MigrateException e) {
          // the pooled connection is given back anyway: ClientSource closes it if it is broken
        }
        source.close();
      }
    }
  }

  /**
   * Streams every blob's chunks over parallel connections (opened into {@code extra}); returns once
   * all are written out.
   */
  private void send(AgentEndpoint endpoint, AgentLink link, AgentConnection primary, String sessionId,
      Map<Long, Blob> mapped, Map<Long, Long> newBlobIds, List<AgentConnection> extra, ThrottledProgress progress) {
    Map<Long, Long> sizes = new LinkedHashMap<>();
    mapped.forEach((id, blob) -> sizes.put(id, blob.size()));
    long total = sizes.values().stream().mapToLong(Long::longValue).sum();
    List<List<ChunkPlan.Chunk>> plan = ChunkPlan.split(sizes,
        request.tcp().chunkBytes(), ChunkPlan.connectionsFor(total, request.tcp().maxConnections()));
    List<CompletableFuture<Void>> outcomes = new ArrayList<>();
    for (int i = 0; i < plan.size(); i++) {
      AgentConnection connection = primary;
      if (i > 0) {
        connection = link.openExtra();
        extra.add(connection);
        connection.call("attach", FrameCodec.mapper().createObjectNode().put("session", sessionId));
      }
      List<ChunkWriter.Chunk> chunks = plan.get(i).stream().map(c -> new ChunkWriter.Chunk(
          newBlobIds.get(c.blobId()), c.offset(), c.length(), mapped.get(c.blobId()).address() + c.offset())).toList();
      outcomes.add(written(connection.write(new ChunkWriter(chunks, progress::add)), connection));
    }
    // no deadline here: each connection fails by itself when the agent stops taking DATA (AgentConnection)
    AgentConnection.await(CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new)),
        Long.MAX_VALUE, "pushing " + total + " bytes to the agent at " + endpoint);
  }

  /** Completes when the write is out, fails when it or the connection fails. */
  private static CompletableFuture<Void> written(ChannelFuture write, AgentConnection connection) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    write.addListener(f -> {
      if (f.isSuccess()) {
        done.complete(null);
      } else {
        done.completeExceptionally(f.cause());
      }
    });
    connection.failure().whenComplete((ok, cause) -> done.completeExceptionally(cause));
    return done;
  }

  private static void abort(AgentConnection primary, String sessionId) {
    try {
      primary.call("abort", FrameCodec.mapper().createObjectNode().put("session", sessionId));
    } catch (MigrateException ignored) {
      // the agent rolls back on its own when the connection closes
    }
  }
}
