package io.v6d.migrate.engine;

import io.v6d.migrate.ipc.VineyardClient;

/** What a migration that returns an earlier copy still owes its caller: persisting it, naming it. */
final class EarlierCopy {
  private EarlierCopy() {}

  /** Persists and names {@code copy} as {@code request} asks (a name is refused as for a new copy). */
  static void adopt(VineyardClient target, long copy, MigrationRequest request) {
    if (request.persist() && target.getData(copy, false).path("transient").asBoolean(false)) {
      target.persist(copy);
    }
    if (request.name() != null && !namesCopy(target, request.name(), copy)) {
      TargetBuild.refuseTakenName(request.name(), request.overwriteName(), target::getName);
      target.putName(copy, request.name());
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
