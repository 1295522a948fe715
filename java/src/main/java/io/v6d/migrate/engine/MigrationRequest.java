package io.v6d.migrate.engine;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.tcp.TcpOptions;

/**
 * What to migrate and where.
 *
 * @param object an object id ({@code o0123...}) or a name
 * @param target the target: its vineyardd's IPC socket, or {@code tcp://host:port}, the agent beside
 *     it (the bytes are then pushed to it)
 * @param source the source: its vineyardd's IPC socket, {@code rpc://host:port} (its RPC port) or
 *     {@code tcp://host:port} (its agent); null to find the holder through the target's cluster
 * @param name a name to give the migrated object on the target, or null
 * @param persist persist the migrated object on the target
 * @param transport how the bytes travel
 * @param tokenFile the agents' shared token (null: {@code VINEYARD_MIGRATE_TOKEN} or the default file)
 * @param tcp tuning of the TCP transport
 * @param overwriteName move {@code name} to the migrated object when it names another object on the
 *     target; when false such a name is refused before anything is created
 * @param timeoutMillis how long any peer (vineyardd, an agent) may be silent while we wait for it;
 *     0 for {@link Timeouts#DEFAULT_MILLIS}
 * @param copy make a fresh copy even when an earlier migration of the object to the target instance
 *     left one there (without it a migration is idempotent: see {@link CopyRecords})
 */
public record MigrationRequest(String object, String target, String source, String name, boolean persist,
    TransportChoice transport, String tokenFile, TcpOptions tcp, boolean overwriteName, long timeoutMillis,
    boolean copy) {
  /** A request that returns an earlier copy when there is one. */
  public MigrationRequest(String object, String target, String source, String name, boolean persist,
      TransportChoice transport, String tokenFile, TcpOptions tcp, boolean overwriteName, long timeoutMillis) {
    this(object, target, source, name, persist, transport, tokenFile, tcp, overwriteName, timeoutMillis, false);
  }

  /** A request with the defaults: a taken name is refused, the default timeout. */
  public MigrationRequest(String object, String target, String source, String name, boolean persist,
      TransportChoice transport, String tokenFile, TcpOptions tcp) {
    this(object, target, source, name, persist, transport, tokenFile, tcp, false, 0);
  }

  public MigrationRequest {
    if (object == null || object.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "no object given: pass an object id or a name");
    }
    if (target == null || target.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "no target given: pass the target vineyardd's IPC socket");
    }
    if (source != null && source.isBlank()) {
      source = null;
    }
    if (name != null && name.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "the new name must not be blank");
    }
    tokenFile = expandHome(tokenFile);
    transport = transport == null ? TransportChoice.AUTO : transport;
    tcp = tcp == null ? TcpOptions.DEFAULT : tcp;
    timeoutMillis = Timeouts.orDefault(timeoutMillis);
  }

  /**
   * A request for a part of this one (a chunk of a global object or of a stream): the same target,
   * transport, token, tuning and timeout; no name.
   */
  public MigrationRequest forPart(String part, String partSource, boolean persistPart) {
    return new MigrationRequest(part, target, partSource, null, persistPart, transport, tokenFile, tcp, false,
        timeoutMillis, copy);
  }

  /** {@code ~} or {@code ~/...} as the shell would expand it (a path given as {@code --opt=~/x} is not). */
  public static String expandHome(String path) {
    if (path != null && (path.equals("~") || path.startsWith("~/"))) {
      return System.getProperty("user.home") + path.substring(1);
    }
    return path;
  }
}
