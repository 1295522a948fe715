package io.v6d.migrate;

import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationPlan;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.engine.StreamMigration;
import io.v6d.migrate.engine.ToLocal;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.tcp.TcpOptions;
import io.v6d.migrate.transport.ProgressListener;

/**
 * The engine's public entry point, for Java callers, the command line and the Python face (through
 * JPype).
 *
 * <pre>{@code
 * MigrationResult r = Migrate.migrate("o0001a2b3c4d5e6f7", "/var/run/b.sock", "/var/run/a.sock", null, true);
 * System.out.println(r.targetIdString());
 * }</pre>
 */
public final class Migrate {
  private Migrate() {}

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
    return migrate(object, targetSocket, sourceSocket, name, persist, ProgressListener.NONE);
  }

  public static MigrationResult migrate(
      String object, String targetSocket, String sourceSocket, String name, boolean persist,
      ProgressListener progress) {
    return migrate(object, targetSocket, sourceSocket, name, persist, "auto", null, 0, progress);
  }

  /**
   * The same with every option.
   *
   * @param target an IPC socket, or {@code tcp://host:port} of the agent beside the target (push)
   * @param source an IPC socket, {@code tcp://host:port} of its agent, {@code rpc://host:port} of its
   *     vineyardd, or null
   * @param transport "auto", "local", "tcp" or "rpc"
   * @param tokenFile the agents' shared token file, or null for the default
   * @param connections at most this many parallel TCP connections (0: the default)
   */
  public static MigrationResult migrate(String object, String target, String source, String name, boolean persist,
      String transport, String tokenFile, int connections, ProgressListener progress) {
    return new MigrationEngine().migrate(request(object, target, source, name, persist, transport, tokenFile, connections),
        progress == null ? ProgressListener.NONE : progress);
  }

  /** A dry run of {@link #migrate(String, String, String, String, boolean, String, String, int, ProgressListener)}. */
  public static MigrationPlan plan(String object, String target, String source, String transport, String tokenFile,
      int connections) {
    return new MigrationEngine().plan(request(object, target, source, null, true, transport, tokenFile, connections));
  }

  /**
   * Starts forwarding a stream to the target; returns at once with the target stream created.
   *
   * @param maxInFlightBytes bound on forwarded chunks not yet consumed on the target
   */
  public static StreamMigration migrateStream(String stream, String target, String source, String transport,
      String tokenFile, int connections, long maxInFlightBytes) {
    return new MigrationEngine().migrateStream(
        request(stream, target, source, null, true, transport, tokenFile, connections), maxInFlightBytes);
  }

  /** Gathers rank {@code rank}'s share of a global object onto the target; returns the local ids. */
  public static String[] migrateToLocal(String globalObject, int replica, int rank, String target, String transport,
      String tokenFile, int connections) {
    return ToLocal.run(request(globalObject, target, null, null, true, transport, tokenFile, connections), replica, rank)
        .stream().map(ObjectIds::format).toArray(String[]::new);
  }

  private static MigrationRequest request(String object, String target, String source, String name, boolean persist,
      String transport, String tokenFile, int connections) {
    TcpOptions tcp = connections <= 0 ? TcpOptions.DEFAULT : new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes());
    return new MigrationRequest(object, target, source, name, persist, TransportChoice.parse(transport), tokenFile, tcp);
  }

  /**
   * Reclaims what dead migrations left on the vineyardd at the IPC socket {@code target} (see
   * {@link io.v6d.migrate.journal.Reclaimer}); returns one entry per dead migration.
   */
  public static java.util.List<io.v6d.migrate.journal.Reclaimed> reclaim(String target) {
    try (io.v6d.migrate.ipc.VineyardClient client = io.v6d.migrate.ipc.VineyardClient.connect(target)) {
      return io.v6d.migrate.journal.Reclaimer.reclaim(client);
    }
  }

  /** {@link #reclaim} as a JSON text (a list of objects), for the Python face. */
  public static String reclaimJson(String target) {
    com.fasterxml.jackson.databind.node.ArrayNode list = io.v6d.migrate.ipc.FrameCodec.mapper().createArrayNode();
    reclaim(target).forEach(r -> list.add(r.toJson()));
    return list.toString();
  }

  /** The engine's version, as built. */
  public static String version() {
    String version = Migrate.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
