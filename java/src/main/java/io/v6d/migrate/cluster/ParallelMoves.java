package io.v6d.migrate.cluster;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.engine.TargetBuild;
import io.v6d.migrate.journal.PreparedCommit;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.rebalance.RebalancePlan.Move;
import io.v6d.migrate.transport.ProgressListener;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the moves of a plan at once: every target pulls its incoming chunks concurrently with the
 * others, each chunk one migration of the engine (through the source's agent, or shared memory on
 * one host), with at most {@code perSource} transfers reading from one instance and at most
 * {@code perTarget} writing into one. The first failure stops moves not yet started; the caller
 * then {@link #rollback()}s every copy made. A copy into a vineyardd on this host stays uncommitted
 * (journaled) until the caller {@link #commit()}s, after persisting the new global object.
 *
 * <p>Permits are taken target first, then source, and a source permit is never held while waiting
 * for a target one, so the two bounds cannot deadlock.
 */
final class ParallelMoves {
  private static final Logger LOG = LoggerFactory.getLogger(ParallelMoves.class);

  /** One chunk copied: where to, and its id there; {@code held} while not committed (null: committed already). */
  record Copy(Move move, long newId, Held held) {}

  /**
   * A copy into a vineyardd on this host, persisted but not committed: journaled there (in its
   * build) until {@link #commit}, so a caller killed before the new global object is persisted
   * leaves nothing, and one killed after leaves it whole ({@link PreparedCommit}).
   */
  private static final class Held {
    final ClientPool.Lease lease;
    final TargetBuild build;
    volatile long made;

    Held(ClientPool.Lease lease) {
      this.lease = lease;
      TargetBuild started;
      try {
        started = new TargetBuild(lease.client());
      } catch (RuntimeException e) {
        lease.close();
        throw e;
      }
      this.build = started;
    }
  }

  private final MigrationRequest base;
  private final Map<Long, GlobalChunks.Instance> cluster;
  private final int perSource;
  private final int perTarget;
  private final Map<Long, Copy> copies = new ConcurrentHashMap<>();
  private final Queue<Held> held = new ConcurrentLinkedQueue<>();
  private final AtomicLong bytesCopied = new AtomicLong();

  ParallelMoves(MigrationRequest base, Map<Long, GlobalChunks.Instance> cluster, int perSource, int perTarget) {
    if (perSource < 1 || perTarget < 1 || perSource > 64 || perTarget > 64) {
      throw new MigrateException(ErrorCode.INVALID, "transfers per source and per target must be from 1 to 64, not "
          + perSource + " and " + perTarget);
    }
    this.base = base;
    this.cluster = cluster;
    this.perSource = perSource;
    this.perTarget = perTarget;
  }

  /** Copies every move's chunk to its target; returns the new ids by old chunk id. */
  Map<Long, Long> run(List<Move> moves) {
    if (moves.isEmpty()) {
      return Map.of();
    }
    Map<Long, Semaphore> sources = new HashMap<>();
    Map<Long, Semaphore> targets = new HashMap<>();
    for (Move m : moves) {
      sources.computeIfAbsent(m.from(), k -> new Semaphore(perSource, true));
      targets.computeIfAbsent(m.to(), k -> new Semaphore(perTarget, true));
    }
    int threads = Math.min(moves.size(), targets.size() * perTarget);
    AtomicBoolean failed = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "vineyard-migrate-rebalance");
      t.setDaemon(true);
      return t;
    });
    List<Future<?>> running = new ArrayList<>();
    ClientPool connections = ClientPool.current(); // this call's pool (a Session's, or the process-wide one), on every thread
    try {
      // round-robin over targets, so every target starts pulling at once
      for (Move m : interleavedByTarget(moves)) {
        running.add(pool.submit(() -> {
          if (failed.get()) {
            return;
          }
          Semaphore target = targets.get(m.to());
          Semaphore source = sources.get(m.from());
          target.acquireUninterruptibly();
          try {
            source.acquireUninterruptibly();
            try {
              if (!failed.get()) {
                ClientPool.using(connections, () -> {
                  copy(m);
                  return null;
                });
              }
            } finally {
              source.release();
            }
          } catch (RuntimeException e) {
            failed.set(true);
            throw e;
          } finally {
            target.release();
          }
        }));
      }
      MigrateException first = null;
      for (Future<?> f : running) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          if (first == null) {
            first = e.getCause() instanceof MigrateException me ? me
                : new MigrateException(ErrorCode.UNKNOWN, "a chunk's move failed: " + e.getCause(), e.getCause());
          }
        } catch (InterruptedException e) {
          failed.set(true);
          Thread.currentThread().interrupt();
          first = first != null ? first : new MigrateException(ErrorCode.ALREADY_STOPPED, "rebalance interrupted");
        }
      }
      if (first != null) {
        throw first;
      }
    } finally {
      pool.shutdownNow();
      awaitQuietly(pool); // no copy may land after the caller rolls back
    }
    Map<Long, Long> ids = new HashMap<>();
    copies.forEach((chunk, copy) -> ids.put(chunk, copy.newId()));
    return ids;
  }

  private void copy(Move m) {
    GlobalChunks.Instance to = cluster.get(m.to());
    MigrationResult result;
    Held into = null;
    if (to.socketHere()) { // a fresh copy (the build owns all of it), persisted, held uncommitted
      MigrationRequest one = new MigrationRequest(ObjectIds.format(m.chunk()), to.ipcSocket(), null, null, true,
          base.transport(), base.tokenFile(), base.tcp(), false, base.timeoutMillis(), true);
      into = new Held(ClientPool.current().ipc(to.ipcSocket(), base.timeoutMillis()));
      held.add(into);
      result = new MigrationEngine().migrateUncommitted(into.build, into.lease.client(), one);
      into.made = result.targetId();
    } else { // through the target's agent: committed there (see docs/scaling.md)
      MigrationRequest one = new MigrationRequest(ObjectIds.format(m.chunk()), to.targetEndpoint(), null, null, true,
          base.transport(), base.tokenFile(), base.tcp(), false, base.timeoutMillis());
      result = new MigrationEngine().migrate(one, ProgressListener.NONE);
    }
    long id = result.targetId();
    copies.put(m.chunk(), new Copy(m, id, into));
    bytesCopied.addAndGet(result.bytesCopied());
    LOG.debug("rebalance: {} ({} bytes) from {} to {} as {}", ObjectIds.format(m.chunk()), m.bytes(), m.from(),
        m.to(), ObjectIds.format(id));
  }

  private static void awaitQuietly(ExecutorService pool) {
    boolean interrupted = false;
    while (true) {
      try {
        if (pool.awaitTermination(1, java.util.concurrent.TimeUnit.SECONDS)) {
          break;
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static void close(Held h) {
    try {
      h.build.close();
    } finally {
      h.lease.close();
    }
  }

  long bytesCopied() {
    return bytesCopied.get();
  }

  private static List<Move> interleavedByTarget(List<Move> moves) {
    Map<Long, List<Move>> byTarget = new java.util.LinkedHashMap<>();
    moves.forEach(m -> byTarget.computeIfAbsent(m.to(), k -> new ArrayList<>()).add(m));
    List<Move> order = new ArrayList<>();
    for (int round = 0; order.size() < moves.size(); round++) {
      for (List<Move> list : byTarget.values()) {
        if (round < list.size()) {
          order.add(list.get(round));
        }
      }
    }
    return order;
  }

  /**
   * Journals, with every copy held uncommitted, that it is committed once {@code global} is
   * persisted linking it: this process persists it, so a reclaim after it died decides at once.
   */
  void prepare(long global) {
    for (Held h : held) {
      if (h.made != 0) {
        h.build.prepare(global, List.of(h.made), 0);
      }
    }
  }

  /** The new global object is persisted: every held copy is committed (a journal left keeps it, as it links it). */
  void commit() {
    for (Held h = held.poll(); h != null; h = held.poll()) {
      try {
        h.build.commit();
        if (h.build.pinsNothing()) {
          h.lease.keep();
        }
      } catch (RuntimeException e) {
        LOG.warn("rebalance: committing {} failed ({}); its journal keeps it, as the new global object links it",
            ObjectIds.format(h.made), e.getMessage());
      } finally {
        close(h);
      }
    }
  }

  /** Deletes every copy made (each on its target); returns what could not be deleted. */
  List<String> rollback() {
    List<String> failures = new ArrayList<>();
    for (Held h = held.poll(); h != null; h = held.poll()) {
      if (h.made != 0) {
        try {
          // not forced: the persisted copy keeps its chunk's signature, and vineyardd resolves the original
          // global object's member to it here; a forced delete would take the original with it
          h.lease.client().delete(List.of(h.made), false, true);
        } catch (RuntimeException e) {
          failures.add(ObjectIds.format(h.made) + ": " + e.getMessage()); // the build's rollback goes on
        }
      }
      close(h); // rolls back what the build made and is left; its journal goes
    }
    for (Copy copy : copies.values()) {
      if (copy.held() != null) {
        continue;
      }
      try {
        Deletion.deleteChunk(cluster.get(copy.move().to()), copy.newId(), base.timeoutMillis());
      } catch (RuntimeException e) {
        failures.add(ObjectIds.format(copy.newId()) + " on " + copy.move().to() + ": " + e.getMessage());
      }
    }
    copies.clear();
    if (!failures.isEmpty()) {
      LOG.warn("rolling back a failed rebalance could not delete: {}", failures);
    }
    return failures;
  }
}
