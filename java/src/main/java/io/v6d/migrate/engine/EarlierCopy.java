package io.v6d.migrate.engine;

import io.v6d.migrate.ipc.VineyardClient;

/** What a migration that returns an earlier copy still owes its caller: persisting it, naming it. */
public final class EarlierCopy {
  private EarlierCopy() {}

  /** Persists and names {@code copy} as {@code request} asks (a name is refused as for a new copy). */
  static void adopt(VineyardClient target, long copy, MigrationRequest request) {
    adopt(target, copy, request.persist(), request.name(), request.overwriteName());
  }

  /** The same, asked field by field (by the agent, for a pushed migration). */
  public static void adopt(VineyardClient target, long copy, boolean persist, String name, boolean overwriteName) {
    if (persist && target.getData(copy, false).path("transient").asBoolean(false)) {
      target.persist(copy);
    }
    if (name != null && !namesCopy(target, name, copy)) {
      TargetBuild.refuseTakenName(name, overwriteName, target::getName);
      target.putName(copy, name);
    }
  }

  private static boolean namesCopy(VineyardClient target, String name, long copy) {
    try {
      return target.getName(name) == copy;
    } catch (io.v6d.migrate.MigrateException e) {
      return false;
    }
  }
}
