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
import io.v6d.migrate.transport.ChunkPlan;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.ThrottledProgress;
import java.nio.file.Path;
import java.util.ArrayList;
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
  private final MigrationRequest request;

  PushMigration(MigrationRequest request) {
    this.request = request;
  }

  MigrationResult run(ProgressListener progress) {
    long started = System.nanoTime();
    try (Prepared p = prepare()) {
      if (p.alreadyOnTarget) {
        return new MigrationResult(p.id, p.id, 0, 0, 0, MigrationEngine.seconds(started), "none");
      }
      Map<Long, Long> newBlobIds = new LinkedHashMap<>(p.reused);
      long total = p.mapped.values().stream().mapToLong(Blob::size).sum();
      ObjectNode begin = FrameCodec.mapper().createObjectNode();
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
        ObjectNode commit = FrameCodec.mapper().createObjectNode()
            .put("session", sessionId).put("persist", request.persist()).put("same_cluster", p.sameCluster);
        commit.set("tree", p.tree);
        if (request.name() != null) {
          commit.put("name", request.name()).put("overwrite_name", request.overwriteName());
        }
        ObjectNode ids = commit.putObject("blobs");
        newBlobIds.forEach((from, to) -> ids.put(ObjectIds.format(from), ObjectIds.format(to)));
        long newId = ObjectIds.parse(p.primary.call("commit", commit).path("object_id").asText());
        long onWire = p.primary.sent() - p.sentBefore + extra.stream().mapToLong(AgentConnection::sent).sum();
        p.lease.keep(); // committed: the agent holds nothing of this push for the link any more
        return new MigrationResult(p.id, newId, p.mapped.size(), p.reused.size(), total,
            MigrationEngine.seconds(started), "tcp-push", onWire, p.primary.compression().label(), p.primary.tls());
      } catch (RuntimeException e) {
        abort(p.primary, sessionId);
        throw e;
      } finally {
        // kept open until the commit: an attached connection that closes early fails the session.
        // The writes read the source's shared memory, so they close before the source is unmapped.
        extra.forEach(AgentConnection::close);
      }
    }
  }

  MigrationPlan plan() {
    try (Prepared p = prepare()) {
      if (p.alreadyOnTarget) {
        return new MigrationPlan(p.id, true, List.of(), 0);
      }
      List<MigrationPlan.Blob> blobs = new ArrayList<>();
      p.reused.keySet().forEach(id -> blobs.add(new MigrationPlan.Blob(id, -1, p.targetInstance, "reuse", "none")));
      p.mapped.values().forEach(b -> blobs.add(
          new MigrationPlan.Blob(b.id(), b.size(), p.source.instanceId(), "copy", "tcp-push")));
      return new MigrationPlan(p.id, false, blobs, p.mapped.values().stream().mapToLong(Blob::size).sum(),
          p.primary.compression().label(), p.primary.tls());
    }
  }

  /** The source, the target agent, the object and which of its blobs would be pushed. */
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
      p.id = SourceSet.resolveId(p.source, request.object(), "the source");
      p.tree = SourceSet.treeFromHolder(p.source, p.id, p.sameCluster);
      SourceSet.refuseStream(p.tree);
      AgentConnection agent = p.primary;
      long id = p.id;
      p.alreadyOnTarget = SourceSet.alreadyOn(p.tree, p.targetInstance, p.sameCluster, () -> agent.call("exists",
          FrameCodec.mapper().createObjectNode().put("id", ObjectIds.format(id))).path("exists").asBoolean());
      if (p.alreadyOnTarget) {
        return p;
      }
      TargetBuild.refuseTakenName(request.name(), request.overwriteName(), name -> ObjectIds.parse(agent.call("name",
          FrameCodec.mapper().createObjectNode().put("name", name)).path("id").asText()));
      List<Long> toPush = new ArrayList<>();
      for (BlobRef blob : MetaTree.blobs(p.tree).values()) {
        if (p.sameCluster && blob.instanceId() == p.targetInstance) {
          p.reused.put(blob.id(), blob.id());
        } else if (!p.sameCluster || blob.instanceId() == p.source.instanceId()) {
          toPush.add(blob.id());
        } else {
          throw new MigrateException(ErrorCode.NOT_IMPLEMENTED, "blob " + ObjectIds.format(blob.id())
              + " lives on instance " + blob.instanceId() + ", neither the source nor the target: push from there");
        }
      }
      p.mapped = p.source.client().getBuffers(toPush);
      return p;
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
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
    long id;
    ObjectNode tree;
    boolean alreadyOnTarget;
    final Map<Long, Long> reused = new LinkedHashMap<>();
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
