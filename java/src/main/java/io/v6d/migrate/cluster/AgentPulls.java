package io.v6d.migrate.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.protocol.Token;
import io.v6d.migrate.rebalance.RebalancePlan.Move;
import io.v6d.migrate.tcp.AgentConnection;
import io.v6d.migrate.tcp.AgentEndpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The moves of a plan run by the target instances' agents: each target's agent is sent one pull
 * order (its incoming chunks and their holders) and pulls them itself, through the source agents or
 * shared memory on its host, while the others do the same; no byte passes through this process.
 * The copies stay uncommitted on the agents until {@link #persist()}, {@link #prepare} and
 * {@link #commit()}; until then {@link #rollback()} deletes exactly what each agent made. When this
 * process dies (the agents see the connection close) each agent rolls back, unless it was told the
 * new global object's id ({@link #prepare}) and finds that object persisted linking its copies:
 * then it keeps them, so the new object is never left naming deleted chunks.
 *
 * <p>Bounds: each agent pulls at most {@code perTarget} chunks at once; the per-source bound is
 * split between the targets reading one source, at least one each, so at most
 * max({@code perSource}, targets reading it) transfers read one source at once.
 */
final class AgentPulls implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentPulls.class);

  /** One target's agent, its connection and what its session pulled. */
  private static final class Target {
    final long instance;
    final AgentEndpoint endpoint;
    final List<Move> moves = new ArrayList<>();
    volatile AgentConnection connection;
    CompletableFuture<JsonNode> pulled;
    String session;
    long bytes;

    Target(long instance, AgentEndpoint endpoint) {
      this.instance = instance;
      this.endpoint = endpoint;
    }

    boolean open() {
      return session != null;
    }
  }

  private final MigrationRequest base;
  private final int perSource;
  private final int perTarget;
  private final Map<Long, Target> targets = new LinkedHashMap<>();
  private final Map<Long, Long> copies = new HashMap<>();
  private byte[] token;

  AgentPulls(MigrationRequest base, int perSource, int perTarget) {
    this.base = base;
    this.perSource = perSource;
    this.perTarget = perTarget;
  }

  /** Sends every target's agent its order; returns at once (see {@link #await}). */
  void start(List<Move> moves, Map<Long, GlobalChunks.Instance> cluster) {
    if (moves.isEmpty()) {
      return;
    }
    for (Move m : moves) {
      targets.computeIfAbsent(m.to(), to -> new Target(to, cluster.get(to).agent().orElseThrow(() ->
          new MigrateException(ErrorCode.INVALID, "instance " + to + " has no agent to pull its chunks"))))
          .moves.add(m);
    }
    Map<Long, Long> readers = new HashMap<>();
    targets.values().forEach(t -> t.moves.stream().map(Move::from).distinct()
        .forEach(from -> readers.merge(from, 1L, Long::sum)));
    token = Token.load(base.tokenFile() == null ? null : Path.of(base.tokenFile()));
    for (Target t : targets.values()) {
      int share = (int) Math.max(1, perSource / t.moves.stream().mapToLong(m -> readers.get(m.from())).max().orElse(1));
      ObjectNode order = FrameCodec.mapper().createObjectNode()
          .put("per_source", share).put("per_target", perTarget).put("connections", base.tcp().maxConnections())
          .put("transport", base.transport().name().toLowerCase()).put("timeout_ms", base.timeoutMillis())
          .put("compression", base.tcp().compression().label());
      t.moves.forEach(m -> order.withArray("chunks").addObject().put("id", ObjectIds.format(m.chunk()))
          .put("from", m.from()));
      t.pulled = CompletableFuture.supplyAsync(() -> {
        t.connection = AgentConnection.open(t.endpoint, token, base.timeoutMillis(), base.tcp().tls(),
            base.tcp().compression());
        // the agent answers when its last chunk is in: while waiting, it must answer on a fresh connection
        return t.connection.callWaiting("pull", order, () -> probe(t.endpoint));
      }, runner());
    }
  }

  /**
   * Waits for every target's pull; returns the new id by chunk. While some still pull, the agents
   * that are done are asked {@code info} now and then, so they do not close us as idle. On the
   * first failure the others are told to abort, and their answers awaited.
   */
  Map<Long, Long> await() {
    // completes at the first failure, or normally once every pull is in
    CompletableFuture<Void> settled = new CompletableFuture<>();
    targets.values().forEach(t -> t.pulled.whenComplete((ok, e) -> {
      if (e != null) {
        settled.completeExceptionally(e);
      }
    }));
    CompletableFuture.allOf(targets.values().stream().map(t -> t.pulled).toArray(CompletableFuture[]::new))
        .whenComplete((ok, e) -> settled.complete(null));
    long tick = Math.max(1_000, Math.min(base.timeoutMillis(), 30_000) / 2);
    MigrateException failure = null;
    while (true) {
      try {
        settled.get(tick, TimeUnit.MILLISECONDS);
        break;
      } catch (TimeoutException e) {
        try {
          targets.values().stream().filter(t -> t.pulled.isDone() && !t.pulled.isCompletedExceptionally())
              .forEach(t -> t.connection.call("info", null));
        } catch (MigrateException gone) { // an agent that pulled its share is gone: its session rolls back
          failure = gone;
          break;
        }
      } catch (ExecutionException e) {
        failure = asMigrate(e.getCause());
        break;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        failure = new MigrateException(ErrorCode.ALREADY_STOPPED, "rebalance interrupted");
        break;
      }
    }
    if (failure != null) {
      abortRunning();
      throw failure;
    }
    for (Target t : targets.values()) {
      JsonNode reply = t.pulled.join();
      t.session = reply.path("session").asText();
      t.bytes = reply.path("bytes").asLong();
      reply.path("copies").fields().forEachRemaining(e ->
          copies.put(ObjectIds.parse(e.getKey()), ObjectIds.parse(e.getValue().asText())));
      LOG.debug("agent {} pulled {} chunk(s), {} bytes", t.endpoint, t.moves.size(), t.bytes);
    }
    return copies;
  }

  /** Tells every agent still pulling to stop and roll back, and waits for each to answer. */
  private void abortRunning() {
    for (Target t : targets.values()) {
      if (t.pulled == null) {
        continue;
      }
      boolean aborted = false;
      if (!t.pulled.isDone() && t.connection != null) {
        try {
          // answered once the agent has rolled back (after the pull's own reply)
          t.connection.callWaiting("pull_abort", FrameCodec.mapper().createObjectNode().put("session", ""),
              () -> probe(t.endpoint));
          aborted = true;
        } catch (MigrateException e) {
          LOG.debug("abort on {}: {}", t.endpoint, e.getMessage());
        }
      }
      try {
        JsonNode reply = t.pulled.join();
        if (!aborted) {
          t.session = reply.path("session").asText(); // it finished before we could abort: roll it back below
        }
      } catch (RuntimeException e) {
        // it failed (and rolled back) by itself, or was aborted
      }
    }
    rollback();
  }

  /** Persists every copy on its agent (still undone by {@link #rollback}). */
  void persist() {
    targets.values().stream().filter(Target::open).forEach(t -> t.connection.call("pull_persist",
        FrameCodec.mapper().createObjectNode().put("session", t.session)));
  }

  /**
   * Tells every agent the id of the global object about to be persisted with its copies: an agent
   * whose connection closes before {@link #commit()} keeps its copies exactly when that object is
   * persisted and links them (so a caller killed between persisting it and committing leaves it
   * whole), and rolls back otherwise.
   */
  void prepare(long globalId) {
    targets.values().stream().filter(Target::open).forEach(t -> t.connection.call("pull_prepare",
        FrameCodec.mapper().createObjectNode().put("session", t.session).put("global", ObjectIds.format(globalId))));
  }

  /**
   * The copies are the caller's from here on. Called once the global object is persisted, so it
   * never rolls back: an agent that cannot be told keeps its copies by itself when we close (it
   * sees the persisted object linking them); returns those agents.
   */
  List<String> commit() {
    List<String> failures = new ArrayList<>();
    for (Target t : targets.values()) {
      if (t.open()) {
        try {
          t.connection.call("pull_commit", FrameCodec.mapper().createObjectNode().put("session", t.session));
        } catch (MigrateException e) {
          failures.add(t.endpoint + ": " + e.getMessage());
        }
        t.session = null;
      }
    }
    if (!failures.isEmpty()) {
      LOG.warn("these agents did not answer the commit; each keeps its copies when we close, as the new global "
          + "object links them: {}", failures);
    }
    return failures;
  }

  /** Every agent deletes what its session made; returns what could not be asked (those agents roll back when we close). */
  List<String> rollback() {
    List<String> failures = new ArrayList<>();
    for (Target t : targets.values()) {
      if (t.open()) {
        try {
          t.connection.call("pull_abort", FrameCodec.mapper().createObjectNode().put("session", t.session));
        } catch (MigrateException e) {
          failures.add(t.endpoint + ": " + e.getMessage());
        }
        t.session = null;
      }
    }
    if (!failures.isEmpty()) {
      LOG.warn("rolling back a failed rebalance: these agents roll back on their own when we close: {}", failures);
    }
    return failures;
  }

  /** Bytes each target's agent pulled, by instance id. */
  Map<Long, Long> bytesByTarget() {
    Map<Long, Long> bytes = new LinkedHashMap<>();
    targets.values().forEach(t -> bytes.put(t.instance, t.bytes));
    return bytes;
  }

  @Override
  public void close() {
    for (Target t : targets.values()) {
      if (t.connection != null) {
        t.connection.close();
      }
    }
  }

  private void probe(AgentEndpoint endpoint) {
    try (AgentConnection probe = AgentConnection.open(endpoint, token, base.timeoutMillis(), base.tcp().tls(),
        base.tcp().compression())) {
      probe.call("info", null);
    }
  }

  private static java.util.concurrent.Executor runner() {
    return r -> {
      Thread t = new Thread(r, "vineyard-migrate-agent-pull");
      t.setDaemon(true);
      t.start();
    };
  }

  private static MigrateException asMigrate(Throwable cause) {
    Throwable c = cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null
        ? cause.getCause() : cause;
    return c instanceof MigrateException m ? new MigrateException(m.code(), m.getMessage(), m)
        : new MigrateException(ErrorCode.UNKNOWN, "an agent's pull failed: " + c, c);
  }
}
