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
    return migrate(object, target, source, name, persist, transport, tokenFile, connections, 0, progress);
  }

  /**
   * The same with a timeout.
   *
   * @param timeoutMillis how long any peer (vineyardd, an agent) may stay silent while we wait for it
   *     (0: {@link Timeouts#DEFAULT_MILLIS}); progress restarts the clock. A missed deadline is a
   *     CONNECTION_ERROR naming the peer and the request, and the target is left as it was.
   */
  public static MigrationResult migrate(String object, String target, String source, String name, boolean persist,
      String transport, String tokenFile, int connections, long timeoutMillis, ProgressListener progress) {
    return new MigrationEngine().migrate(
        request(object, target, source, name, persist, transport, tokenFile, connections, timeoutMillis),
        progress == null ? ProgressListener.NONE : progress);
  }

  /** A dry run of {@link #migrate(String, String, String, String, boolean, String, String, int, ProgressListener)}. */
  public static MigrationPlan plan(String object, String target, String source, String transport, String tokenFile,
      int connections) {
    return plan(object, target, source, transport, tokenFile, connections, 0);
  }

  /** A dry run with a timeout (0: the default). */
  public static MigrationPlan plan(String object, String target, String source, String transport, String tokenFile,
      int connections, long timeoutMillis) {
    return new MigrationEngine().plan(
        request(object, target, source, null, true, transport, tokenFile, connections, timeoutMillis));
  }

  /**
   * Starts forwarding a stream to the target; returns at once with the target stream created.
   *
   * @param maxInFlightBytes bound on forwarded chunks not yet consumed on the target
   */
  public static StreamMigration migrateStream(String stream, String target, String source, String transport,
      String tokenFile, int connections, long maxInFlightBytes) {
    return migrateStream(stream, target, source, transport, tokenFile, connections, maxInFlightBytes, 0);
  }

  /**
   * The same with a timeout (0: the default). Waiting for the source's next chunk is not bounded by
   * it (a producer may be slow), but the peer holding the stream must answer once per timeout.
   */
  public static StreamMigration migrateStream(String stream, String target, String source, String transport,
      String tokenFile, int connections, long maxInFlightBytes, long timeoutMillis) {
    return new MigrationEngine().migrateStream(
        request(stream, target, source, null, true, transport, tokenFile, connections, timeoutMillis), maxInFlightBytes);
  }

  /** Gathers rank {@code rank}'s share of a global object onto the target; returns the local ids. */
  public static String[] migrateToLocal(String globalObject, int replica, int rank, String target, String transport,
      String tokenFile, int connections) {
    return migrateToLocal(globalObject, replica, rank, target, transport, tokenFile, connections, 0);
  }

  /** The same with a timeout (0: the default). */
  public static String[] migrateToLocal(String globalObject, int replica, int rank, String target, String transport,
      String tokenFile, int connections, long timeoutMillis) {
    return ToLocal.run(request(globalObject, target, null, null, true, transport, tokenFile, connections, timeoutMillis),
        replica, rank).stream().map(ObjectIds::format).toArray(String[]::new);
  }

  private static MigrationRequest request(String object, String target, String source, String name, boolean persist,
      String transport, String tokenFile, int connections, long timeoutMillis) {
    TcpOptions tcp = connections <= 0 ? TcpOptions.DEFAULT : new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes());
    return new MigrationRequest(object, target, source, name, persist, TransportChoice.parse(transport), tokenFile, tcp,
        timeoutMillis);
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
