package io.v6d.migrate.engine;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;

/**
 * What to migrate and where.
 *
 * @param object an object id ({@code o0123...}) or a name
 * @param targetSocket IPC socket of the target vineyardd
 * @param sourceSocket IPC socket of the source vineyardd, or null to find the instance holding the
 *     object through the target's cluster
 * @param name a name to give the migrated object on the target, or null
 * @param persist persist the migrated object on the target
 */
public record MigrationRequest(String object, String targetSocket, String sourceSocket, String name, boolean persist) {
  public MigrationRequest {
    if (object == null || object.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "no object given: pass an object id or a name");
    }
    if (targetSocket == null || targetSocket.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "no target given: pass the target vineyardd's IPC socket");
    }
    if (sourceSocket != null && sourceSocket.isBlank()) {
      sourceSocket = null;
    }
    if (name != null && name.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "the new name must not be blank");
    }
  }
}
