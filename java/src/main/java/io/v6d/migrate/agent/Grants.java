package io.v6d.migrate.agent;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.protocol.Handshake;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one client may read, shared by the connections it opens (the first creates the grant, the
 * others join it by its random id): the blobs of the objects it named, the streams it opened and
 * the chunks those streams gave it. Lives as long as the connection that created it.
 */
final class Grants {
  /** One client's permissions; every set is safe for the connections' threads at once. */
  static final class Grant {
    final String id = HexFormat.of().formatHex(Handshake.nonce());
    /** Blob ids reachable from {@link #roots}, plus blob chunks of {@link #streams}. */
    final Set<Long> blobs = ConcurrentHashMap.newKeySet();
    /** Objects the client named whose trees the agent resolved. */
    final Set<Long> roots = ConcurrentHashMap.newKeySet();
    /** Streams the client opened for reading. */
    final Set<Long> streams = ConcurrentHashMap.newKeySet();
    /** Chunks those streams handed to the client, until it releases them. */
    final Set<Long> chunks = ConcurrentHashMap.newKeySet();
  }

  private final Map<String, Grant> open = new ConcurrentHashMap<>();

  Grant create() {
    Grant grant = new Grant();
    open.put(grant.id, grant);
    return grant;
  }

  Grant get(String id) {
    Grant grant = open.get(id);
    if (grant == null) {
      throw new MigrateException(ErrorCode.INVALID, "no grant '" + id + "' on this agent");
    }
    return grant;
  }

  void remove(Grant grant) {
    open.remove(grant.id);
  }
}
