package io.v6d.migrate.agent;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.metrics.AgentMetrics;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The agent's open push sessions, by id, so that extra connections can attach to them. */
final class PushSessions {
  private final Map<String, PushSession> open = new ConcurrentHashMap<>();

  PushSession begin(VineyardClient target, Map<Long, Long> sizes) {
    PushSession session = PushSession.begin(target, sizes);
    open.put(session.id(), session);
    AgentMetrics.pushSessionOpened();
    return session;
  }

  PushSession get(String id) {
    PushSession session = open.get(id);
    if (session == null) {
      throw new MigrateException(ErrorCode.INVALID, "no push session '" + id + "'");
    }
    return session;
  }

  void remove(PushSession session) {
    if (open.remove(session.id()) != null) {
      AgentMetrics.pushSessionClosed();
    }
  }
}
