package io.v6d.migrate;

import io.v6d.migrate.engine.EngineCall;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationPlan;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.engine.StreamMigration;
import io.v6d.migrate.engine.ToLocal;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.transport.ProgressListener;

/**
 * The engine's public entry point, for Java callers, the command line and the Python face (through
 * JPype). Every call takes its options as one {@link MigrateOptions}; the {@code start...} forms run
 * the call on a thread of the engine and return at once, so the caller can wait in slices and cancel
 * (the Python face does, so that Ctrl-C reaches Python and the target is rolled back).
 *
 * <pre>{@code
 * MigrationResult r = Migrate.migrate("o0001a2b3c4d5e6f7", "/var/run/b.sock", "/var/run/a.sock", null, true);
 * System.out.println(r.targetIdString());
 * }</pre>
 */
public final class Migrate {
  private Migrate() {}

  /** Options with the defaults, to set and pass to the calls below. */
  public static MigrateOptions options() {
    return new MigrateOptions();
  }

  /**
   * Migrates {@code object} (an id {@code o...} or a name) to the vineyardd at {@code targetSocket}.
   *
   * @param sourceSocket the source's IPC socket, or null to find the holder through the target's cluster
   * @param name a name for the migrated object on the target, or null
   * @param persist whether to persist the migrated object
   * @throws MigrateException with vineyard's status code when anything fails; the target is then
   *     left as it was
   */
  public static MigrationResult migrate(
      String object, String targetSocket, String sourceSocket, String name, boolean persist) {
    return migrate(object, targetSocket, options().source(sourceSocket).name(name).persist(persist), ProgressListener.NONE);
  }

  /**
   * Migrates {@code object} with every option.
   *
   * @param target an IPC socket, or {@code tcp://host:port} of the agent beside the target (push)
   * @param progress told of bytes moved, or null
   */
  public static MigrationResult migrate(String object, String target, MigrateOptions options,
      ProgressListener progress) {
    return new MigrationEngine().migrate(options.request(object, target), orNone(progress));
  }

  /** {@link #migrate(String, String, MigrateOptions, ProgressListener)} on a thread of the engine. */
  public static EngineCall<MigrationResult> startMigrate(String object, String target, MigrateOptions options,
      ProgressListener progress) {
    var request = options.request(object, target);
    ProgressListener listener = orNone(progress);
    return EngineCall.start(() -> ClientPool.using(options.pool(), () -> new MigrationEngine().migrate(request, listener)));
  }

  /**
   * Migrates every object of {@code objects} to {@code target}, all or nothing (see
   * {@link MigrationEngine#migrateMany}), on a thread of the engine; {@code names} is null or gives a
   * name (or null) per object. The results are in the order of the objects.
   */
  public static EngineCall<MigrationResult[]> startMigrateMany(String[] objects, String target, MigrateOptions options,
      String[] names) {
    return startMigrateMany(objects, target, options, names, null);
  }

  /** {@link #startMigrateMany(String[], String, MigrateOptions, String[])}, told of the batch's bytes moved. */
  public static EngineCall<MigrationResult[]> startMigrateMany(String[] objects, String target, MigrateOptions options,
      String[] names, ProgressListener progress) {
    if (names != null && names.length != objects.length) {
      throw new MigrateException(ErrorCode.INVALID, "names gives " + names.length + " names for " + objects.length
          + " objects");
    }
    java.util.List<io.v6d.migrate.engine.MigrationRequest> requests = new java.util.ArrayList<>();
    for (int i = 0; i < objects.length; i++) {
      requests.add(options.request(objects[i], target, names == null ? null : names[i]));
    }
    ProgressListener listener = orNone(progress);
    return EngineCall.start(() -> ClientPool.using(options.pool(),
        () -> new MigrationEngine().migrateMany(requests, listener).toArray(MigrationResult[]::new)));
  }

  /** The target ids of {@code results}, space-separated, in order (one call for the Python face). */
  public static String targetIds(MigrationResult[] results) {
    return java.util.Arrays.stream(results).map(MigrationResult::targetIdString)
        .collect(java.util.stream.Collectors.joining(" "));
  }

  /** A dry run of {@link #migrate(String, String, MigrateOptions, ProgressListener)}. */
  public static MigrationPlan plan(String object, String target, MigrateOptions options) {
    return new MigrationEngine().plan(options.request(object, target));
  }

  /** {@link #plan} on a thread of the engine. */
  public static EngineCall<MigrationPlan> startPlan(String object, String target, MigrateOptions options) {
    var request = options.request(object, target);
    return EngineCall.start(() -> new MigrationEngine().plan(request));
  }

  /**
   * Starts forwarding a stream to the target; returns at once with the target stream created. Waiting
   * for the source's next chunk is not bounded by the timeout (a producer may be slow), but the peer
   * holding the stream must answer once per timeout.
   *
   * @param maxInFlightBytes bound on forwarded chunks not yet consumed on the target
   */
  public static StreamMigration migrateStream(String stream, String target, MigrateOptions options,
      long maxInFlightBytes) {
    return new MigrationEngine().migrateStream(options.request(stream, target), maxInFlightBytes);
  }

  /** Gathers rank {@code rank}'s share of a global object onto the target; returns the local ids. */
  public static String[] migrateToLocal(String globalObject, int replica, int rank, String target,
      MigrateOptions options) {
    return ids(ToLocal.run(options.request(globalObject, target), replica, rank));
  }

  /** {@link #migrateToLocal} on a thread of the engine (the original tool's rule). */
  public static EngineCall<String[]> startMigrateToLocal(String globalObject, int replica, int rank, String target,
      MigrateOptions options) {
    return startMigrateToLocal(globalObject, replica, rank, target, "original", options);
  }

  /**
   * {@link #startMigrateToLocal} with a policy: {@code "original"} (the original tool's rule) or
   * {@code "balanced"} (balanced by bytes, preferring chunks already on the rank's instance).
   */
  public static EngineCall<String[]> startMigrateToLocal(String globalObject, int replica, int rank, String target,
      String policy, MigrateOptions options) {
    boolean balanced = "balanced".equals(policy);
    if (!balanced && !"original".equals(policy)) {
      throw new MigrateException(ErrorCode.INVALID, "policy must be \"original\" or \"balanced\", not \"" + policy + "\"");
    }
    var request = options.request(globalObject, target);
    return EngineCall.start(() -> ClientPool.using(options.pool(), () -> ids(balanced
        ? io.v6d.migrate.cluster.BalancedToLocal.run(request, replica, rank)
        : ToLocal.run(request, replica, rank))));
  }

  private static String[] ids(java.util.List<Long> ids) {
    return ids.stream().map(ObjectIds::format).toArray(String[]::new);
  }

  private static ProgressListener orNone(ProgressListener progress) {
    return progress == null ? ProgressListener.NONE : progress;
  }

  /**
   * Reclaims what dead migrations left on the vineyardd at the IPC socket {@code target} (see
   * {@link io.v6d.migrate.journal.Reclaimer}), and removes the records of copies deleted since
   * ({@link io.v6d.migrate.engine.CopyRecords#sweep}); returns one entry per dead migration.
   */
  public static java.util.List<io.v6d.migrate.journal.Reclaimed> reclaim(String target) {
    try (ClientPool.Lease lease = ClientPool.current().ipc(target, io.v6d.migrate.Timeouts.DEFAULT_MILLIS)) {
      io.v6d.migrate.ipc.VineyardClient client = lease.client();
      java.util.List<io.v6d.migrate.journal.Reclaimed> reclaimed = io.v6d.migrate.journal.Reclaimer.reclaim(client);
      int records = io.v6d.migrate.engine.CopyRecords.sweep(client);
      if (records > 0) {
        org.slf4j.LoggerFactory.getLogger(Migrate.class).info("removed {} record(s) of deleted copies", records);
      }
      lease.keep(); // deletions only: it pins nothing
      return reclaimed;
    }
  }

  /** {@link #reclaim} as a JSON text (a list of objects), for the Python face. */
  public static String reclaimJson(String target) {
    com.fasterxml.jackson.databind.node.ArrayNode list = io.v6d.migrate.ipc.FrameCodec.mapper().createArrayNode();
    reclaim(target).forEach(r -> list.add(r.toJson()));
    return list.toString();
  }

  /** A pool of connections of its own, for a Session: pass it with {@link MigrateOptions#pool}; close it. */
  public static ClientPool openPool() {
    return new ClientPool();
  }

  /** Registrations with any vineyardd since this process started. */
  public static long registrations() {
    return io.v6d.migrate.ipc.VineyardClient.registrations();
  }

  /**
   * Closes the connections kept between migrations ({@link io.v6d.migrate.pool.ClientPool}) and
   * removes the journals' locks kept between them ({@link io.v6d.migrate.journal.Journal#closeIdle});
   * the next migration opens new ones. Called at interpreter exit by the Python face.
   */
  public static void close() {
    io.v6d.migrate.pool.ClientPool.closeShared();
    io.v6d.migrate.journal.Journal.closeIdle();
  }

  /**
   * What the pool did so far, as JSON: {@code registrations} (IPC registrations with any vineyardd
   * since this process started), {@code idle} (IPC connections and agent links the pool holds now),
   * {@code agent_connections} (agent connections opened since this process started) and
   * {@code idle_agent_links} (the agent links among the idle); {@code opened_by_pool} (vineyardd
   * connections the pool opened: all of the engine's, so it grows with {@code registrations}).
   */
  public static String poolStatsJson() {
    return io.v6d.migrate.ipc.FrameCodec.mapper().createObjectNode()
        .put("registrations", io.v6d.migrate.ipc.VineyardClient.registrations())
        .put("opened_by_pool", ClientPool.opened())
        .put("idle", io.v6d.migrate.pool.ClientPool.shared().idleCount())
        .put("agent_connections", io.v6d.migrate.tcp.AgentConnection.opened())
        .put("idle_agent_links", io.v6d.migrate.pool.ClientPool.shared().idleAgentLinks())
        .toString();
  }

  /**
   * The engine's version, as built: the jar manifest's {@code Implementation-Version}, else (run from
   * classes) the version.properties Maven filtered; both come from pom.xml.
   */
  public static String version() {
    String version = Migrate.class.getPackage().getImplementationVersion();
    if (version != null) {
      return version;
    }
    try (java.io.InputStream in = Migrate.class.getResourceAsStream("version.properties")) {
      java.util.Properties properties = new java.util.Properties();
      if (in != null) {
        properties.load(in);
      }
      return properties.getProperty("version", "unknown");
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}
