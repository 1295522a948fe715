package io.v6d.migrate.tcp;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;

/** Where an agent listens: {@code tcp://host:port} or {@code host:port}. */
public record AgentEndpoint(String host, int port) {
  public static final String SCHEME = "tcp://";

  public static boolean isEndpoint(String text) {
    return text != null && text.startsWith(SCHEME);
  }

  public static AgentEndpoint parse(String text) {
    String rest = text.startsWith(SCHEME) ? text.substring(SCHEME.length()) : text;
    int colon = rest.lastIndexOf(':');
    if (colon <= 0 || colon == rest.length() - 1) {
      throw new MigrateException(ErrorCode.INVALID, "not an agent endpoint (tcp://host:port): '" + text + "'");
    }
    try {
      int port = Integer.parseInt(rest.substring(colon + 1));
      if (port <= 0 || port > 65535) {
        throw new NumberFormatException();
      }
      String host = rest.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      return new AgentEndpoint(host, port);
    } catch (NumberFormatException e) {
      throw new MigrateException(ErrorCode.INVALID, "bad port in agent endpoint '" + text + "'");
    }
  }

  @Override
  public String toString() {
    return SCHEME + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
