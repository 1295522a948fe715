package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.protocol.Token;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;

/**
 * For {@code vineyard-migrate doctor}: connects to an agent, authenticates with the token and asks
 * what it serves. Any failure (unreachable, refused token) is the MigrateException saying so; with
 * no token at all, an agent that cannot be reached is reported as such, not as the missing token.
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
    AgentEndpoint agent = AgentEndpoint.parse(endpoint);
    byte[] token;
    try {
      token = Token.load(tokenFile == null ? null : Path.of(tokenFile));
    } catch (MigrateException noToken) {
      // without a token nothing is asked of the agent; an agent that is not there is the first thing to fix
      refuseUnreachable(agent, noToken);
      throw noToken;
    }
    try (AgentConnection connection = AgentConnection.open(agent, token, Timeouts.DEFAULT_MILLIS, tls)) {
      return connection.call("info", null).toString();
    }
  }

  /** Throws a CONNECTION_FAILED naming {@code agent} when nothing accepts a TCP connection there. */
  private static void refuseUnreachable(AgentEndpoint agent, MigrateException noToken) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(agent.host(), agent.port()), (int) Timeouts.DEFAULT_MILLIS);
    } catch (IOException | IllegalArgumentException e) {
      MigrateException unreachable = new MigrateException(ErrorCode.CONNECTION_FAILED,
          "cannot connect to the agent at " + agent.host() + ":" + agent.port() + ": " + e.getMessage());
      unreachable.addSuppressed(noToken);
      throw unreachable;
    }
  }
}
