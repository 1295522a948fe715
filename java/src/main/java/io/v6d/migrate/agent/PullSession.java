package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.engine.TargetBuild;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.metrics.AgentMetrics;
import io.v6d.migrate.protocol.Handshake;
import io.v6d.migrate.tcp.TcpOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A peer's order that this agent pull chunks (objects of its cluster) into its own vineyardd: the
 * target side of an agent-run rebalance. The agent runs the engine's own pull path
 * ({@link MigrationEngine#pullInto}), at most {@code per_target} chunks at once and at most
 * {@code per_source} from one holder, each chunk a fresh copy recorded in an uncommitted
 * {@link TargetBuild} (and so in the target's crash-safety journal). The holders are found through
 * the cluster's metadata and published agents, never taken from the peer, and a peer can make the
 * agent delete only what its own session created.
 *
 * <p>Life: pull → (persist) → (prepare) → commit, or abort at any point. The peer's connection
 * closing before the commit aborts -- except once prepared: the peer announced the id of the
 * global object that will link the copies and may have persisted it before it died, so the agent
 * keeps the copies exactly when that object is persisted with them as members
 * ({@link PreparedGlobal}), else rolls back. One session per connection; {@link AgentHandler}
 * drives it.
 */
final class PullSession {
  /** One pulling thread's own connection and build (neither is shared between threads). */
  private static final class Worker implements AutoCloseable {
    final VineyardClient client;
    final TargetBuild build;
    final List<Long> made = new ArrayList<>();

    Worker(VineyardClient client) {
      this.client = client;
      TargetBuild build;
      try {
        build = new TargetBuild(client);
      } catch (RuntimeException e) {
        client.close();
        throw e;
      }
      this.build = build;
    }

    /** Rolls back unless committed, then closes the connection (dropping its blob references). */
    @Override
    public void close() {
      try {
        build.close();
      } finally {
        client.close();
      }
    }
  }

  private enum State { PULLING, PULLED, PERSISTED, PREPARED, DONE }

  /**
   * How long a prepared session whose peer left waits for the announced global object to be seen
   * persisted before rolling back: the peer's last persist request may still be on its way
   * through its vineyardd and etcd when its connection closes.
   */
  static final long SETTLE_MILLIS = io.v6d.migrate.journal.PreparedCommit.SETTLE_MILLIS;

  private final String id = HexFormat.of().formatHex(Handshake.nonce());
  private final AgentServer server;
  private final List<Worker> workers = new ArrayList<>(); // guarded by this
  private final Map<Long, Long> copies = new ConcurrentHashMap<>();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  /** Counted down once the pull's reply is written: an abort waits for it, and answers after it. */
  private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
  private final long startedNanos = System.nanoTime();
  private State state = State.PULLING; // guarded by this
  /** The peer left while the pull ran: the pulling thread rolls back when it ends. */
  private boolean abandoned; // guarded by this
  /** The global object the peer announced (once prepared): it decides the session if the peer leaves. */
  private long global; // guarded by this

  PullSession(AgentServer server) {
    this.server = server;
    AgentMetrics.pullSessionOpened();
  }

  String id() {
    return id;
  }

  /**
   * Pulls every chunk of {@code order} (blocking; on a thread that is not the connection's);
   * returns the reply: the session, the new id by chunk and the bytes pulled. On any failure
   * everything pulled is rolled back before this throws.
   */
  ObjectNode pull(PullOrder order) {
    Map<Long, Semaphore> sources = new HashMap<>();
    order.chunks().forEach(c -> sources.computeIfAbsent(c.from(), k -> new Semaphore(order.perSource(), true)));
    Queue<PullOrder.Chunk> queue = new ConcurrentLinkedQueue<>(order.chunks());
    int threads = Math.min(order.chunks().size(), order.perTarget());
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "vineyard-migrate-pull-" + id.substring(0, 8));
      t.setDaemon(true);
      return t;
    });
    MigrateException first = null;
    try {
      try (VineyardClient control = server.connectVineyard()) {
        TargetBuild.reclaimDeadMigrations(control); // what dead migrations held is free for this one
      }
      List<Future<?>> running = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        running.add(pool.submit(() -> work(queue, sources, order)));
      }
      for (Future<?> f : running) {
        try {
          f.get();
        } catch (ExecutionException e) {
          if (first == null) {
            first = e.getCause() instanceof MigrateException m ? m
                : new MigrateException(ErrorCode.UNKNOWN, "pulling a chunk failed: " + e.getCause(), e.getCause());
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          stop.set(true);
          first = first != null ? first : new MigrateException(ErrorCode.ALREADY_STOPPED, "pull session interrupted");
        }
      }
    } catch (RuntimeException e) {
      first = first != null ? first : e instanceof MigrateException m ? m
          : new MigrateException(ErrorCode.UNKNOWN, String.valueOf(e), e);
    } finally {
      pool.shutdownNow();
    }
    synchronized (this) {
      if (first == null && abandoned) {
        first = new MigrateException(ErrorCode.CONNECTION_ERROR, "the peer left pull session " + id);
      }
      if (first != null) {
        rollBack(first.getMessage());
        throw first;
      }
      state = State.PULLED;
    }
    ObjectNode reply = FrameCodec.mapper().createObjectNode().put("session", id).put("bytes", bytes.get());
    ObjectNode ids = reply.putObject("copies");
    copies.forEach((from, to) -> ids.put(ObjectIds.format(from), ObjectIds.format(to)));
    return reply;
  }

  /** One thread: takes chunks until none is left or the session stops, each into its own build. */
  private void work(Queue<PullOrder.Chunk> queue, Map<Long, Semaphore> sources, PullOrder order) {
    Worker worker;
    synchronized (this) {
      if (stop.get()) {
        return;
      }
      worker = new Worker(server.connectVineyard());
      workers.add(worker);
    }
    MigrationEngine engine = new MigrationEngine();
    try {
      for (PullOrder.Chunk chunk = queue.poll(); chunk != null && !stop.get(); chunk = queue.poll()) {
        Semaphore source = sources.get(chunk.from());
        source.acquireUninterruptibly();
        try {
          if (stop.get()) {
            return;
          }
          MigrationRequest request = new MigrationRequest(ObjectIds.format(chunk.id()), server.socket(), null, null,
              false, order.transport(), server.tokenFile(),
                            // dialled as this agent's own TLS settings say, compressed as the caller asked
              new TcpOptions(order.connections(), TcpOptions.DEFAULT.chunkBytes(), server.peerTls(),
                  order.compression()), false, order.timeoutMillis(), true);
          MigrationResult result = engine.pullInto(worker.build, worker.client, request);
          if (!result.alreadyOnTarget()) {
            worker.made.add(result.targetId());
          }
          copies.put(chunk.id(), result.targetId());
          bytes.addAndGet(result.bytesCopied());
          AgentMetrics.pulled(result.bytesCopied());
          if (!result.alreadyOnTarget()) {
            AgentMetrics.pulledOverWire(result.transport(), result.bytesOnWire(), result.compression(), result.tls());
          }
        } finally {
          source.release();
        }
      }
    } catch (RuntimeException e) {
      stop.set(true);
      throw e;
    }
  }

  /** Persists every copy (still abortable: an abort deletes them, persisted or not). */
  synchronized void persist() {
    require(State.PULLED, "persist");
    for (Worker worker : workers) {
      for (long made : worker.made) {
        worker.client.persist(made);
      }
    }
    io.v6d.migrate.faults.FaultInjection.installed().reached("pull:persisted");
    state = State.PERSISTED;
  }

  /**
   * The peer announces the global object it is about to persist with the copies as members; from
   * now on a peer that leaves without committing leaves the decision to {@link #peerLeft}.
   */
  synchronized void prepare(long globalId) {
    require(State.PERSISTED, "prepare");
    if (!workers.isEmpty() && PreparedGlobal.persisted(workers.get(0).client, globalId)) {
      // vineyardd resolves an old global object's members to this instance's replicas, the copies:
      // naming one that exists already would keep them without a new object linking them
      throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(globalId) + " is persisted already: "
          + "pull_prepare names the new global object before it is persisted");
    }
    // journaled first: if this agent dies now, its restart keeps the copies exactly when the peer
    // persists the object with them (and waits for the peer's window before deleting them)
    long decideAfter = io.v6d.migrate.journal.PreparedCommit.decideAfterForPeer();
    for (Worker worker : workers) {
      if (!worker.made.isEmpty()) {
        worker.build.prepare(globalId, worker.made, decideAfter);
      }
    }
    global = globalId;
    state = State.PREPARED;
  }

  /** From here on the copies are the peer's: the journal entries go, the connections close. */
  synchronized void commit() {
    if (state != State.PULLED && state != State.PERSISTED && state != State.PREPARED) {
      require(State.PERSISTED, "commit");
    }
    for (Worker worker : workers) {
      worker.build.commit();
    }
    AgentMetrics.migrationServed("pull-session", true, startedNanos);
    finish();
  }

  /**
   * Deletes everything this session created (now, or, while it still pulls, when the pull ends).
   * Called for the peer's abort and when its connection closes; nothing once committed.
   */
  synchronized void abort(String why) {
    switch (state) {
      case PULLING -> {
        abandoned = true;
        stop.set(true);
      }
      case PULLED, PERSISTED, PREPARED -> rollBack(why);
      case DONE -> { }
    }
  }

  /**
   * The peer's connection closed before its commit: like {@link #abort}, except for a prepared
   * session, which (on a thread of the agent's, off the event loop) keeps its copies when the
   * announced global object is persisted with them, waiting up to {@link #SETTLE_MILLIS} for it.
   */
  synchronized void peerLeft() {
    if (state != State.PREPARED) {
      abort("the peer's connection closed before its commit");
      return;
    }
    try {
      server.pulls().execute(this::settle);
    } catch (java.util.concurrent.RejectedExecutionException e) { // the agent is stopping
      abort("the peer left before its commit and the agent is stopping");
    }
  }

  private void settle() {
    List<Long> made = new ArrayList<>();
    long globalId;
    synchronized (this) {
      if (state != State.PREPARED) {
        return;
      }
      workers.forEach(w -> made.addAll(w.made));
      globalId = global;
    }
    String why;
    try {
      if (PreparedGlobal.awaitPersistedWith(server::connectVineyard, globalId, made, SETTLE_MILLIS)) {
        synchronized (this) {
          if (state == State.PREPARED) {
            org.slf4j.LoggerFactory.getLogger(PullSession.class).info("pull session {}: the peer left after "
                + "persisting {}, which links its copies: committed", id, ObjectIds.format(globalId));
            commit();
          }
        }
        return;
      }
      why = "the peer left before its commit and " + ObjectIds.format(globalId)
          + " is not persisted with this session's copies";
    } catch (RuntimeException e) {
      why = "the peer left before its commit and checking " + ObjectIds.format(globalId) + " failed: " + e;
    }
    abort(why);
  }

  /** Committed or rolled back: nothing of it is left to do. */
  synchronized boolean over() {
    return state == State.DONE;
  }

  /** The pull's reply is written (or the pull never started). */
  void ended() {
    ended.countDown();
  }

  /** Waits until the pull's reply is written: an abort sent while pulling is answered after it. */
  void awaitEnded() {
    boolean interrupted = false;
    while (true) {
      try {
        ended.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void rollBack(String why) {
    AgentMetrics.migrationServed("pull-session", false, startedNanos);
    org.slf4j.LoggerFactory.getLogger(PullSession.class).info("rolling back pull session {}: {}", id, why);
    if (state == State.PERSISTED || state == State.PREPARED) {
      deletePersistedCopies();
    }
    finish();
  }

  /**
   * A persisted copy keeps its chunk's signature, and vineyardd resolves the original global
   * object's member to this instance's equivalent -- the copy: a forced delete (what the builds'
   * own rollback does) would go upwards and delete the original global object with it. Without
   * force the copy goes (it has an equivalent, the original chunk), deep, and the original stays;
   * what is left is then the builds' to undo.
   */
  private void deletePersistedCopies() {
    for (Worker worker : workers) {
      if (!worker.made.isEmpty()) {
        try {
          worker.client.delete(worker.made, false, true);
        } catch (MigrateException e) {
          org.slf4j.LoggerFactory.getLogger(PullSession.class).warn("pull session {}: deleting its persisted "
              + "copies: {} (the rollback goes on)", id, e.getMessage());
        }
      }
    }
  }

  /** Closes every worker (rolling back what is not committed); once. */
  private void finish() {
    if (state == State.DONE) {
      return;
    }
    state = State.DONE;
    for (Worker worker : workers) {
      worker.close();
    }
    workers.clear();
    AgentMetrics.pullSessionClosed();
  }

  private void require(State wanted, String what) {
    if (state != wanted) {
      throw new MigrateException(ErrorCode.INVALID, "pull session " + id + " cannot " + what + " now (it is "
          + state.name().toLowerCase() + ")");
    }
  }
}
