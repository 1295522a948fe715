package io.v6d.migrate.cluster;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.rebalance.RebalancePlan.Move;
import io.v6d.migrate.transport.ProgressListener;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * then {@link #rollback()}s every copy made.
 *
 * <p>Permits are taken target first, then source, and a source permit is never held while waiting
 * for a target one, so the two bounds cannot deadlock.
 */
final class ParallelMoves {
  private static final Logger LOG = LoggerFactory.getLogger(ParallelMoves.class);

  /** One chunk copied: where to, and its id there. */
  record Copy(Move move, long newId) {}

  private final MigrationRequest base;
  private final Map<Long, GlobalChunks.Instance> cluster;
  private final int perSource;
  private final int perTarget;
  private final Map<Long, Copy> copies = new ConcurrentHashMap<>();
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
    MigrationRequest one = new MigrationRequest(ObjectIds.format(m.chunk()), to.targetEndpoint(), null, null, true,
        base.transport(), base.tokenFile(), base.tcp(), false, base.timeoutMillis());
    var result = new MigrationEngine().migrate(one, ProgressListener.NONE);
    long id = result.targetId();
    copies.put(m.chunk(), new Copy(m, id));
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

  /** Deletes every copy made (each on its target); returns what could not be deleted. */
  List<String> rollback() {
    List<String> failures = new ArrayList<>();
    for (Copy copy : copies.values()) {
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
