package io.v6d.migrate.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.MigrateOptions;
import io.v6d.migrate.engine.EngineCall;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.Journal;
import io.v6d.migrate.journal.PreparedCommit;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.rebalance.RebalancePlan;
import io.v6d.migrate.rebalance.RebalancePlanner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code rebalance}: spreads a global object's chunks over instances (see {@link RebalancePlanner}),
 * every target pulling at once ({@link ParallelMoves}), and builds a new global object of the same
 * type whose members, in the same order, are the chunks where the plan put them.
 *
 * <p>All or nothing: when a move, or building the new object, fails, every copy is deleted and the
 * original is untouched. With {@code replace}, the moved chunks (and the original global object's
 * metadata) are deleted only after the new object is persisted.
 */
public final class Rebalance {
  private static final Logger LOG = LoggerFactory.getLogger(Rebalance.class);

  private Rebalance() {}

  /** The plan, as the JSON of {@link RebalancePlan#toJson()} plus the object id. */
  public static String planJson(String object, String via, String[] instances, String by, int maxMoves,
      MigrateOptions options) {
    MigrationRequest request = options.request(object, via);
    try (ClientPool.Lease lease = ClientPool.current().ipc(request.target(), request.timeoutMillis())) {
      GlobalChunks global = new GlobalChunks(lease.client(), object);
      String plan = withId(plan(global, request, instances, by, maxMoves).toJson(), global.id).toString();
      lease.keep(); // metadata only: it pins nothing
      return plan;
    }
  }

  /** {@link #planJson} on a thread of the engine. */
  public static EngineCall<String> startPlan(String object, String via, String[] instances, String by, int maxMoves,
      MigrateOptions options) {
    return EngineCall.start(() -> planJson(object, via, instances, by, maxMoves, options));
  }

  /**
   * Runs the rebalance; returns JSON: {@code object_id}, {@code source_id}, {@code bytes_moved},
   * {@code bytes_moved_by_caller}, {@code pulled_by_agents} (bytes by target instance), {@code plan}.
   *
   * @param pulledBy who moves the chunks: "agents" (each target's agent pulls its incoming chunks
   *     itself; nothing passes through this process), "caller" (this process copies every chunk,
   *     as one migration each) or "auto" (the target's agent when it has one, else this process)
   */
  public static String run(String object, String via, String[] instances, String by, int maxMoves, boolean persist,
      String name, boolean replace, int perSource, int perTarget, String pulledBy, MigrateOptions options) {
    MigrationRequest request = options.request(object, via);
    Phases phases = new Phases();
    try (ClientPool.Lease lease = ClientPool.current().ipc(request.target(), request.timeoutMillis())) {
      VineyardClient view = lease.client();
      GlobalChunks global = new GlobalChunks(view, object);
      RebalancePlan plan = plan(global, request, instances, by, maxMoves);
      if (name != null) {
        refuseTakenName(view, name);
      }
      phases.end("plan");
      List<RebalancePlan.Move> byAgents = new ArrayList<>();
      List<RebalancePlan.Move> byCaller = new ArrayList<>();
      String mode = pulledBy == null ? "auto" : pulledBy;
      if (!List.of("auto", "agents", "caller").contains(mode)) {
        throw new MigrateException(ErrorCode.INVALID,
            "pulled_by must be \"auto\", \"agents\" or \"caller\", not \"" + pulledBy + "\"");
      }
      for (RebalancePlan.Move m : plan.moves()) {
        boolean hasAgent = global.cluster.get(m.to()).agent().isPresent();
        switch (mode) {
          case "agents" -> {
            if (!hasAgent) {
              throw new MigrateException(ErrorCode.INVALID, "pulled_by=\"agents\": instance " + m.to()
                  + " has no agent (start `vineyard-migrate serve` beside it, or pass pulled_by=\"caller\")");
            }
            byAgents.add(m);
          }
          case "auto" -> (hasAgent ? byAgents : byCaller).add(m);
          default -> byCaller.add(m);
        }
      }
      ParallelMoves moves = new ParallelMoves(request, global.cluster, perSource, perTarget);
      long newId = 0;
      Map<Long, Long> copies = new HashMap<>();
      try (AgentPulls agents = new AgentPulls(request, perSource, perTarget); Journal journal = Journal.open(view)) {
        try {
          agents.start(byAgents, global.cluster); // the agents pull while this process makes its own moves
          try {
            copies.putAll(moves.run(byCaller));
          } finally {
            copies.putAll(agents.await());
          }
          phases.end("moves");
          agents.persist();
          phases.end("persist");
          FaultInjection.installed().reached("rebalance:copies-persisted");
          newId = create(view, global, copies);
          journal.recordObjects(List.of(newId)); // a caller killed before it is persisted: reclaimed
          // ... and once persisted linking every copy, committed: a reclaim keeps it (we died before the clear)
          journal.recordPrepared(newId, new ArrayList<>(copies.values()), 0);
          long announced = System.nanoTime();
          agents.prepare(newId); // from here an agent left uncommitted asks whether newId is persisted
          moves.prepare(newId); // and so does a reclaim of our own moves' journals
          FaultInjection.installed().reached("rebalance:prepared");
          if (persist) {
            PreparedCommit.checkInTime(announced); // an agent killed since decides alone after the window
            view.persist(newId);
            FaultInjection.installed().reached("rebalance:global-persisted");
            journal.clear(); // persisted: never reclaimed; the agents keep their copies even if we die now
          }
          if (name != null) {
            if (!persist) {
              journal.recordName(newId, name);
            }
            view.putName(newId, name);
          }
          phases.end("build");
        } catch (RuntimeException e) {
          undo(view, newId, agents, moves, journal, e);
          throw e;
        }
        FaultInjection.installed().reached("rebalance:persisted");
        // never rolls back: the new object is persisted (or, unpersisted, ours alone)
        List<String> uncommitted = agents.commit();
        moves.commit();
        journal.clear();
        phases.end("commit");
        // an originals' deletion waits for every commit: an agent that missed it may yet lose its copies
        List<String> notDeleted = !replace ? List.of() : uncommitted.isEmpty() ? deleteMoved(view, global, plan)
            : uncommitted.stream().map(u -> "originals kept: not committed on " + u).toList();
        ObjectNode out = FrameCodec.mapper().createObjectNode()
            .put("object_id", ObjectIds.format(newId))
            .put("source_id", ObjectIds.format(global.id))
            .put("bytes_moved", moves.bytesCopied() + agents.bytesByTarget().values().stream().mapToLong(Long::longValue).sum())
            .put("bytes_moved_by_caller", moves.bytesCopied());
        ObjectNode pulled = out.putObject("pulled_by_agents");
        agents.bytesByTarget().forEach((instance, bytes) -> pulled.put(String.valueOf(instance), bytes));
        out.set("plan", plan.toJson());
        out.set("seconds", phases.json());
        ObjectNode copied = out.putObject("copies");
        copies.forEach((from, to) -> copied.put(ObjectIds.format(from), ObjectIds.format(to)));
        notDeleted.forEach(out.putArray("not_deleted")::add);
        lease.keep(); // metadata only (the copies' blobs are the agents' and ParallelMoves' own): it pins nothing
        return out.toString();
      }
    }
  }

  /** {@link #run} on a thread of the engine. */
  public static EngineCall<String> start(String object, String via, String[] instances, String by, int maxMoves,
      boolean persist, String name, boolean replace, int perSource, int perTarget, String pulledBy,
      MigrateOptions options) {
    return EngineCall.start(() -> run(object, via, instances, by, maxMoves, persist, name, replace, perSource,
        perTarget, pulledBy, options));
  }

  static RebalancePlan plan(GlobalChunks global, MigrationRequest request, String[] instances, String by, int maxMoves) {
    RebalancePlanner.Measure measure = switch (by == null ? "bytes" : by) {
      case "bytes" -> RebalancePlanner.Measure.BYTES;
      case "count" -> RebalancePlanner.Measure.COUNT;
      default -> throw new MigrateException(ErrorCode.INVALID, "by must be \"bytes\" or \"count\", not \"" + by + "\"");
    };
    List<Long> chosen = global.instances(instances == null ? List.of() : Arrays.asList(instances));
    return RebalancePlanner.plan(global.chunks(request), chosen, measure, maxMoves);
  }

  private static ObjectNode withId(ObjectNode plan, long id) {
    plan.put("object_id", ObjectIds.format(id));
    return plan;
  }

  private static void refuseTakenName(VineyardClient view, String name) {
    try {
      long taken = view.getName(name);
      throw new MigrateException(ErrorCode.OBJECT_EXISTS, "the name " + name + " names " + ObjectIds.format(taken)
          + " already");
    } catch (MigrateException e) {
      if (e.code() != ErrorCode.OBJECT_NOT_EXISTS && e.code() != ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        throw e;
      }
    }
  }

  /**
   * The new global object's metadata, not yet persisted: the original's fields, each member linked
   * by id (a moved chunk by its copy's id), created through {@code view}. The copies were persisted
   * on other instances; vineyardd only links members it knows, so their metadata is synced first.
   */
  static long create(VineyardClient view, GlobalChunks global, Map<Long, Long> copies) {
    if (!copies.isEmpty()) {
      view.getDatas(new ArrayList<>(copies.values()), true);
    }
    ObjectNode content = FrameCodec.mapper().createObjectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = global.tree.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      String key = field.getKey();
      JsonNode value = field.getValue();
      if (key.equals("id") || key.equals("__timestamp") || key.equals("signature")) {
        continue; // a new object: the instance assigns these
      }
      if (MetaTree.isMember(value)) {
        long chunk = MetaTree.id(value);
        content.set(key, FrameCodec.mapper().createObjectNode().put("id", ObjectIds.format(copies.getOrDefault(chunk, chunk))));
      } else {
        content.set(key, value);
      }
    }
    content.put("instance_id", view.instanceId());
    content.put("transient", true);
    return view.createData(content).id();
  }

  /**
   * A failed rebalance: the new object first (so an agent that outlives us finds it gone), then
   * every copy; what cannot be undone now stays journaled, or is rolled back by its agent when we close.
   */
  private static void undo(VineyardClient view, long newId, AgentPulls agents, ParallelMoves moves, Journal journal,
      RuntimeException failure) {
    try {
      if (newId != 0) {
        view.delete(List.of(newId), true, false);
      }
      agents.rollback();
      moves.rollback();
      journal.clear();
    } catch (RuntimeException again) {
      failure.addSuppressed(again);
    }
  }

  /** {@code replace}: the original's metadata, then each moved chunk on its old instance. */
  private static List<String> deleteMoved(VineyardClient view, GlobalChunks global, RebalancePlan plan) {
    List<String> failures = new ArrayList<>();
    try {
      view.delete(List.of(global.id), true, false);
    } catch (RuntimeException e) {
      failures.add(ObjectIds.format(global.id) + ": " + e.getMessage());
    }
    for (RebalancePlan.Move m : plan.moves()) {
      try {
        Deletion.deleteChunk(global.cluster.get(m.from()), m.chunk(), view.timeoutMillis());
      } catch (RuntimeException e) {
        failures.add(ObjectIds.format(m.chunk()) + " on " + m.from() + ": " + e.getMessage());
      }
    }
    if (!failures.isEmpty()) {
      LOG.warn("rebalance: the new object is persisted but these could not be deleted: {}", failures);
    }
    return failures;
  }

  /** Wall time of each phase of a run, in order, for the result (what bounds a rebalance). */
  private static final class Phases {
    private final ObjectNode seconds = FrameCodec.mapper().createObjectNode();
    private long last = System.nanoTime();

    void end(String phase) {
      long now = System.nanoTime();
      seconds.put(phase, (now - last) / 1e9);
      last = now;
    }

    ObjectNode json() {
      return seconds;
    }
  }
}
