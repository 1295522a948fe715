package io.v6d.migrate.pool;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.tcp.AgentLink;
import io.v6d.migrate.tcp.PublishedAgent;
import io.v6d.migrate.tcp.TcpOptions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of the engine's connections: registered IPC connections to vineyardd instances and
 * authenticated links to agents ({@link AgentLink}), kept between migrations so that a warm call
 * pays neither the registration nor the mapping of the stores again, nor an agent's TCP, HMAC and
 * TLS handshakes (and the agent keeps its own IPC connection for the link).
 *
 * <p>Bounded: at most {@value #MAX_IDLE_PROPERTY} idle connections per socket or agent (default
 * {@value #DEFAULT_MAX_IDLE}), each closed once idle for {@value #IDLE_SECONDS_PROPERTY} seconds
 * (default {@value #DEFAULT_IDLE_SECONDS}; a daemon thread looks twice per idle time). Thread-safe: a connection is leased to one migration at a
 * time. A pooled connection never pins memory: whoever leases it releases every blob reference it
 * took before it gives the lease back ({@link io.v6d.migrate.engine.TargetBuild},
 * {@link io.v6d.migrate.transport.SharedMemoryTransport}, {@link io.v6d.migrate.tcp.TcpPullTransport}).
 * An IPC connection taken from the pool is checked with a non-blocking peek at its socket (no
 * request); a stale one (vineyardd restarted) is closed and replaced once, and a failure of the
 * replacement surfaces as any failed connect does. An agent link is checked for free (its
 * connections' state) and reconnects once when its first request finds it closed.
 *
 * <pre>{@code
 * try (ClientPool.Lease lease = ClientPool.shared().ipc("/var/run/vineyard.sock", 30_000)) {
 *   lease.client().instanceStatus();
 *   lease.keep();   // healthy: back to the pool on close; otherwise it is closed
 * }
 * }</pre>
 */
public final class ClientPool implements AutoCloseable {
  public static final String MAX_IDLE_PROPERTY = "io.v6d.migrate.pool.maxIdle";
  public static final String IDLE_SECONDS_PROPERTY = "io.v6d.migrate.pool.idleSeconds";
  static final int DEFAULT_MAX_IDLE = 4;
  static final long DEFAULT_IDLE_SECONDS = 60;
  private static final Logger LOG = LoggerFactory.getLogger(ClientPool.class);
  private static final Object SHARED_LOCK = new Object();
  /** vineyardd connections the pools of this process opened (IPC and RPC), for a test that none is opened elsewhere. */
  private static final java.util.concurrent.atomic.AtomicLong OPENED = new java.util.concurrent.atomic.AtomicLong();
  private static ClientPool shared; // guarded by SHARED_LOCK

  private final int maxIdle = Math.max(0, Integer.getInteger(MAX_IDLE_PROPERTY, DEFAULT_MAX_IDLE));
  private final long idleNanos = Math.max(0, Long.getLong(IDLE_SECONDS_PROPERTY, DEFAULT_IDLE_SECONDS)) * 1_000_000_000L;
  /** Idle connections by key: an IPC socket and timeout (a String), or an {@link AgentLink.Key}. */
  private final Map<Object, Deque<Idle>> idle = new HashMap<>(); // guarded by this
  private boolean closed; // guarded by this

  private record Idle(AutoCloseable connection, long since) {}

  static final long AGENT_TTL_SECONDS = 10;
  private record KnownAgent(Optional<PublishedAgent> endpoint, long at) {}
  private final Map<String, KnownAgent> agents = new java.util.concurrent.ConcurrentHashMap<>();

  /** The pool of the calls running on this thread when it is not the process-wide one (a Session's). */
  private static final ThreadLocal<ClientPool> SCOPED = new ThreadLocal<>();

  /** A pool of its own (a Session's); the caller closes it. */
  public ClientPool() {
    long periodMillis = Math.max(100, idleNanos / 2_000_000);
    reaping = REAPER.scheduleWithFixedDelay(this::closeIdleTooLong, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
  }

  /** Closes what has been idle for longer than the idle time even when nobody asks for its peer again. */
  private static final ScheduledExecutorService REAPER = Executors.newSingleThreadScheduledExecutor(task -> {
    Thread thread = new Thread(task, "vineyard-migrate-pool-reaper");
    thread.setDaemon(true);
    return thread;
  });
  private final ScheduledFuture<?> reaping;

  /** The pool this thread's call uses: its session's, else the process-wide one. */
  public static ClientPool current() {
    ClientPool scoped = SCOPED.get();
    return scoped != null ? scoped : shared();
  }

  /** Runs {@code work} with {@code pool} (null: the process-wide one) as this thread's pool. */
  public static <T> T using(ClientPool pool, java.util.function.Supplier<T> work) {
    if (pool == null) {
      return work.get();
    }
    ClientPool previous = SCOPED.get();
    SCOPED.set(pool);
    try {
      return work.get();
    } finally {
      if (previous == null) {
        SCOPED.remove();
      } else {
        SCOPED.set(previous);
      }
    }
  }

  /** The process-wide pool, created on first use; {@link #closeShared()} closes it. */
  public static ClientPool shared() {
    synchronized (SHARED_LOCK) {
      if (shared == null) {
        shared = new ClientPool();
      }
      return shared;
    }
  }

  /** Closes the process-wide pool (the next call makes a new one). */
  public static void closeShared() {
    ClientPool pool;
    synchronized (SHARED_LOCK) {
      pool = shared;
      shared = null;
    }
    if (pool != null) {
      pool.close();
    }
  }

  /** A registered IPC connection to the vineyardd at {@code socket}: a pooled one if any is alive. */
  public Lease ipc(String socket, long timeoutMillis) {
    String key = socket + "#" + timeoutMillis;
    VineyardClient reused = (VineyardClient) take(key);
    if (reused != null) {
      try {
        Boolean open = reused.looksOpen(); // a peek, no request: a restarted vineyardd closed the connection
        if (open == null) {
          reused.instanceStatus(); // cannot tell without asking: one request
          open = true;
        }
        if (open) {
          return new Lease(this, key, reused, () -> ipc(socket, timeoutMillis));
        }
        LOG.debug("pooled connection to {} was closed by vineyardd; connecting again", socket);
      } catch (MigrateException e) {
        LOG.debug("pooled connection to {} is stale ({}); connecting again", socket, e.getMessage());
      }
      reused.close();
    }
    VineyardClient opened = VineyardClient.connect(socket, timeoutMillis);
    OPENED.incrementAndGet();
    return new Lease(this, key, opened, () -> ipc(socket, timeoutMillis));
  }

  /** vineyardd connections opened by the pools of this process since it started. */
  public static long opened() {
    return OPENED.get();
  }

  /**
   * A connection to vineyardd's RPC port at {@code endpoint} ({@code host:port}). Opened here so that
   * the pool is the one opener of the engine's connections; not kept (vineyardd holds the blobs it
   * sent over RPC for the connection), so its lease closes it.
   */
  public Lease rpc(String endpoint, long timeoutMillis) {
    VineyardClient opened = VineyardClient.connectRpc(endpoint, timeoutMillis);
    OPENED.incrementAndGet();
    return new Lease(this, "rpc " + endpoint + "#" + timeoutMillis, opened, () -> rpc(endpoint, timeoutMillis));
  }

  /**
   * An authenticated link to the agent at {@code endpoint} with this token, TLS settings,
   * compression and timeout: a pooled one if any is still open, else a new one.
   */
  public AgentLink.Lease agent(AgentEndpoint endpoint, byte[] token, TcpOptions options, long timeoutMillis) {
    AgentLink.Key key = AgentLink.Key.of(endpoint, token, options, timeoutMillis);
    AgentLink link;
    while ((link = (AgentLink) take(key)) != null) {
      if (link.isOpen()) {
        link.lentAgain();
        return new AgentLease(this, key, link);
      }
      LOG.debug("pooled link to the agent at {} is closed (agent restarted?); dropping it", endpoint);
      link.close();
    }
    return new AgentLease(this, key, AgentLink.open(key, token));
  }

  private AutoCloseable take(Object key) {
    List<AutoCloseable> expired = new ArrayList<>();
    Idle last;
    synchronized (this) {
      Deque<Idle> connections = idle.get(key);
      if (closed || connections == null) {
        return null;
      }
      takeExpired(connections, System.nanoTime(), expired);
      last = connections.pollLast();
    }
    expired.forEach(ClientPool::closeQuietly);
    return last == null ? null : last.connection();
  }

  private void closeIdleTooLong() {
    List<AutoCloseable> expired = new ArrayList<>();
    synchronized (this) {
      long now = System.nanoTime();
      idle.values().forEach(connections -> takeExpired(connections, now, expired));
    }
    expired.forEach(ClientPool::closeQuietly);
  }

  private void giveBack(Object key, AutoCloseable connection) {
    List<AutoCloseable> toClose = new ArrayList<>();
    synchronized (this) {
      Deque<Idle> connections = idle.computeIfAbsent(key, k -> new ArrayDeque<>());
      long now = System.nanoTime();
      if (closed || maxIdle == 0) {
        toClose.add(connection);
      } else {
        connections.addLast(new Idle(connection, now));
        while (connections.size() > maxIdle) {
          toClose.add(connections.pollFirst().connection());
        }
      }
    }
    toClose.forEach(ClientPool::closeQuietly);
  }

  private void takeExpired(Deque<Idle> connections, long now, List<AutoCloseable> expired) {
    while (!connections.isEmpty() && now - connections.peekFirst().since() > idleNanos) {
      expired.add(connections.pollFirst().connection());
    }
  }

  private static void closeQuietly(AutoCloseable connection) {
    try {
      connection.close();
    } catch (Exception e) {
      LOG.debug("closing a pooled connection failed: {}", e.toString());
    }
  }

  /**
   * The agent published for instance {@code instance} of the cluster {@code cluster} names (any
   * stable name of the view it was looked up through), remembered for {@value #AGENT_TTL_SECONDS}
   * s: looking it up costs two requests, one of them a sync with the metadata backend. A caller
   * that could not use the endpoint {@link #forgetAgentOf forgets} it.
   */
  public Optional<PublishedAgent> agentOf(String cluster, long instance, Supplier<Optional<PublishedAgent>> lookup) {
    String key = cluster + "#" + instance;
    long now = System.nanoTime();
    KnownAgent known = agents.get(key);
    if (known != null && now - known.at() < AGENT_TTL_SECONDS * 1_000_000_000L) {
      return known.endpoint();
    }
    Optional<PublishedAgent> endpoint = lookup.get();
    agents.put(key, new KnownAgent(endpoint, now));
    return endpoint;
  }

  /** Forgets what {@link #agentOf} remembered for the instance (its agent failed us). */
  public void forgetAgentOf(String cluster, long instance) {
    agents.remove(cluster + "#" + instance);
  }

  /** Idle IPC connections and agent links now held, all peers together. */
  public synchronized int idleCount() {
    return idle.values().stream().mapToInt(Deque::size).sum();
  }

  /** Idle agent links now held. */
  public synchronized int idleAgentLinks() {
    return idle.entrySet().stream().filter(e -> e.getKey() instanceof AgentLink.Key).mapToInt(e -> e.getValue().size()).sum();
  }

  /** Closes every idle connection; leases still out close theirs when they end. */
  @Override
  public void close() {
    List<AutoCloseable> toClose = new ArrayList<>();
    reaping.cancel(false);
    agents.clear();
    synchronized (this) {
      closed = true;
      idle.values().forEach(connections -> connections.forEach(c -> toClose.add(c.connection())));
      idle.clear();
    }
    toClose.forEach(ClientPool::closeQuietly);
  }

  /**
   * A connection lent to one migration: closing the lease gives it back to the pool when
   * {@link #keep()} was called and it is still usable, else closes it.
   */
  public abstract static class Leased<T extends AutoCloseable> implements AutoCloseable {
    private final ClientPool pool;
    private final Object key;
    private final T connection;
    private boolean keep;
    private boolean closed;

    Leased(ClientPool pool, Object key, T connection) {
      this.pool = pool;
      this.key = key;
      this.connection = connection;
    }

    T connection() {
      if (closed) {
        throw new MigrateException(ErrorCode.INVALID, "the connection's lease has ended");
      }
      return connection;
    }

    /** The connection is in a known state (no request half done): give it back on close. */
    public void keep() {
      keep = true;
    }

    /** Whether a kept connection may go back to the pool (it did not die meanwhile). */
    boolean reusable(T connection) {
      return true;
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      if (keep && reusable(connection)) {
        pool.giveBack(key, connection);
      } else {
        closeQuietly(connection);
      }
    }
  }

  /** One IPC (or RPC) connection, leased to one migration. */
  public static final class Lease extends Leased<VineyardClient> {
    private final Supplier<Lease> another;

    private Lease(ClientPool pool, String key, VineyardClient client, Supplier<Lease> another) {
      super(pool, key, client);
      this.another = another;
    }

    public VineyardClient client() {
      return connection();
    }

    /** Another connection to the same vineyardd, of the same kind, from the same pool (a stream reader's own). */
    public Lease another() {
      connection(); // not after the lease ended
      return another.get();
    }
  }

  /** One agent link, leased to one migration. */
  private static final class AgentLease extends Leased<AgentLink> implements AgentLink.Lease {
    private AgentLease(ClientPool pool, AgentLink.Key key, AgentLink link) {
      super(pool, key, link);
    }

    @Override
    public AgentLink link() {
      return connection();
    }

    @Override
    boolean reusable(AgentLink link) {
      return link.isOpen();
    }
  }
}
