package io.v6d.migrate.tcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.tls.TlsFiles;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's authenticated connections to one agent: a primary, which holds the client's grant
 * (what it may map), and the connections joined to that grant that a large pull spreads over,
 * opened when first needed. A link outlives a migration: the pool ({@code io.v6d.migrate.pool})
 * lends it to one migration at a time, so a warm call pays no TCP connect, HMAC handshake, TLS
 * handshake or compression negotiation, and the agent keeps the IPC connection to its vineyardd
 * that it registered for this link.
 *
 * <p>A link taken from the pool may have died since (the agent restarted): the first request of
 * the lease that finds the primary closed reconnects and asks again, once; any later failure is
 * the caller's, as on a fresh link.
 */
public final class AgentLink implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentLink.class);

  /**
   * What makes two links interchangeable: the agent, the client's identity (a digest of its token,
   * never the token), its TLS settings, the compression asked for and the timeout.
   */
  public record Key(AgentEndpoint endpoint, String tokenDigest, TlsFiles tls, Compression compression,
      long timeoutMillis) {
    public static Key of(AgentEndpoint endpoint, byte[] token, TcpOptions options, long timeoutMillis) {
      return new Key(endpoint, digest(token), options.tls(), options.compression(), timeoutMillis);
    }
  }

  /** A link lent to one migration; closing it gives the link back when {@link #keep()} was called. */
  public interface Lease extends AutoCloseable {
    AgentLink link();

    /** The link is in a known state (nothing requested half done, nothing mapped): pool it on close. */
    void keep();

    @Override
    void close();
  }

  private final Key key;
  private final byte[] token;
  private AgentConnection primary;
  private final List<AgentConnection> joined = new ArrayList<>();
  private String grant;
  private JsonNode info;
  private JsonNode cluster;
  private long clusterAt;
  static final long CLUSTER_TTL_MILLIS = 2000;
  /** Set when lent again: the next request may find the primary dead and reconnect once. */
  private boolean mayBeStale;

  private AgentLink(Key key, byte[] token) {
    this.key = key;
    this.token = token.clone();
    this.primary = connect();
  }

  /** Connects and authenticates the primary connection. */
  public static AgentLink open(Key key, byte[] token) {
    return new AgentLink(key, token);
  }

  private AgentConnection connect() {
    return AgentConnection.open(key.endpoint(), token, key.timeoutMillis(), key.tls(), key.compression());
  }

  byte[] token() {
    return token;
  }

  public Key key() {
    return key;
  }

  public AgentEndpoint endpoint() {
    return key.endpoint();
  }

  public AgentConnection primary() {
    return primary;
  }

  /** Every connection still open (free to check: a closed one has failed its {@link AgentConnection#failure()}). */
  public boolean isOpen() {
    joined.removeIf(c -> {
      if (c.isOpen()) {
        return false;
      }
      c.close();
      return true;
    });
    return primary.isOpen();
  }

  /** Marks the link as lent again after idling in the pool. */
  public void lentAgain() {
    mayBeStale = true;
  }

  /**
   * A request on the primary. The first request after the link was lent again reconnects and
   * retries once when it finds the primary closed (the agent restarted while the link was idle).
   */
  public JsonNode call(String op, ObjectNode args) {
    if (!mayBeStale) {
      return primary.call(op, args);
    }
    ObjectNode copy = args == null ? null : args.deepCopy(); // call() adds "op" to what it sends
    try {
      JsonNode reply = primary.call(op, args);
      mayBeStale = false;
      return reply;
    } catch (MigrateException e) {
      mayBeStale = false;
      if (primary.isOpen()) {
        throw e; // the agent answered: not a stale connection
      }
      LOG.debug("pooled connection to the agent at {} is stale ({}); connecting again", key.endpoint(), e.getMessage());
      reopen();
      return primary.call(op, copy);
    }
  }

  private void reopen() {
    closeConnections();
    grant = null;
    info = null;
    cluster = null;
    primary = connect();
  }

  /**
   * The cluster the agent's instance belongs to ("cluster"), asked at most once per
   * {@value #CLUSTER_TTL_MILLIS} ms per link: membership changes far more rarely than objects move.
   */
  public JsonNode cluster() {
    long now = System.nanoTime();
    if (cluster == null || now - clusterAt > CLUSTER_TTL_MILLIS * 1_000_000L) {
      cluster = call("cluster", null).path("cluster");
      clusterAt = now;
    }
    return cluster;
  }

  /** What the agent says of its instance ("info"), asked once per link. */
  public JsonNode info() {
    if (info == null) {
      info = call("info", null);
    }
    return info;
  }

  /**
   * The {@code index}-th connection joined to the primary's grant (index 0 is the primary itself),
   * opening it when the link has fewer.
   */
  public AgentConnection connection(int index) {
    if (index == 0) {
      return primary;
    }
    while (joined.size() < index) {
      joined.add(openJoined());
    }
    return joined.get(index - 1);
  }

  /**
   * A connection joined to the primary's grant that is not part of the link: its opener closes it
   * (a stream reader, which may wait long inside the agent).
   */
  public AgentConnection openJoined() {
    AgentConnection connection = openExtra();
    try {
      connection.call("join", FrameCodec.mapper().createObjectNode().put("grant", grant()));
      return connection;
    } catch (RuntimeException e) {
      connection.close();
      throw e;
    }
  }

  /** Another connection with the link's settings that is not part of it: its opener closes it. */
  public AgentConnection openExtra() {
    return connect();
  }

  private String grant() {
    if (grant == null) {
      grant = call("grant", null).path("grant").asText();
    }
    return grant;
  }

  private void closeConnections() {
    joined.forEach(AgentConnection::close);
    joined.clear();
    primary.close();
  }

  @Override
  public void close() {
    closeConnections();
  }

  private static String digest(byte[] token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token));
    } catch (NoSuchAlgorithmException e) {
      throw new MigrateException(ErrorCode.UNKNOWN, "no SHA-256 in this JVM", e);
    }
  }
}
