package io.v6d.migrate;

import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationResult;
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
    MigrationRequest request = new MigrationRequest(object, targetSocket, sourceSocket, name, persist);
    return new MigrationEngine().migrate(request, progress == null ? ProgressListener.NONE : progress);
  }

  /** The engine's version, as built. */
  public static String version() {
    String version = Migrate.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
