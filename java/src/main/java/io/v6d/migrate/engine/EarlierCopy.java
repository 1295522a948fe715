package io.v6d.migrate.engine;

import io.v6d.migrate.ipc.VineyardClient;

/** What a migration that returns an earlier copy still owes its caller: persisting it, naming it. */
public final class EarlierCopy {
  private EarlierCopy() {}

  /** Persists and names {@code copy} as {@code request} asks (a name is refused as for a new copy). */
  static void adopt(VineyardClient target, CopyRecords.Found copy, MigrationRequest request) {
    adopt(target, copy.id(), copy.meta(), request.persist(), request.name(), request.overwriteName());
  }

  /**
   * The same, asked field by field (by the agent, for a pushed migration); {@code meta}: the copy's
   * metadata as read when it was found (null: read it).
   */
  public static void adopt(VineyardClient target, long copy, com.fasterxml.jackson.databind.JsonNode meta,
      boolean persist, String name, boolean overwriteName) {
    com.fasterxml.jackson.databind.JsonNode root = meta != null ? meta : target.getData(copy, false);
    if (persist && root.path("transient").asBoolean(false)) {
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
