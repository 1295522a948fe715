package io.v6d.migrate.tcp;

import io.v6d.migrate.Timeouts;
import io.v6d.migrate.protocol.Token;
import java.nio.file.Path;

/**
 * For {@code vineyard-migrate doctor}: connects to an agent, authenticates with the token and asks
 * what it serves. Any failure (unreachable, refused token) is the MigrateException saying so.
 */
public final class AgentProbe {
  private AgentProbe() {}

  /**
   * The agent's {@code info} reply as JSON text (instance_id, ipc_socket, rpc_endpoint, version).
   *
   * @param tokenFile the token file, or null for the default ({@code VINEYARD_MIGRATE_TOKEN}, then
   *     ~/.vineyard-migrate/token)
   */
  public static String info(String endpoint, String tokenFile) {
    return info(endpoint, tokenFile, io.v6d.migrate.tls.TlsFiles.NONE);
  }

  /** The same over TLS when {@code tls} is enabled. */
  public static String info(String endpoint, String tokenFile, io.v6d.migrate.tls.TlsFiles tls) {
    byte[] token = Token.load(tokenFile == null ? null : Path.of(tokenFile));
    try (AgentConnection connection = AgentConnection.open(AgentEndpoint.parse(endpoint), token, Timeouts.DEFAULT_MILLIS, tls)) {
      return connection.call("info", null).toString();
    }
  }
}
