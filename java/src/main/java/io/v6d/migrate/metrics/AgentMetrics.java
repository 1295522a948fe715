package io.v6d.migrate.metrics;

import io.netty.channel.Channel;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * What the agent counts, for {@code serve --metrics-port}: one registry of its own (not the
 * client library's default one, which an embedding application may use), static so that the
 * agent's handlers report with one-line calls. Counting costs a few atomic adds; nothing here
 * blocks or allocates per byte.
 */
public final class AgentMetrics {
  static final PrometheusRegistry REGISTRY = new PrometheusRegistry();

  private static final Counter MIGRATIONS = Counter.builder()
      .name("vineyard_migrate_agent_migrations")
      .help("Migrations the agent served, by transport (pull: a peer read blobs from here; push: a peer wrote "
          + "blobs into this vineyardd) and outcome (ok, failed)")
      .labelNames("transport", "outcome")
      .register(REGISTRY);
  private static final Histogram DURATION = Histogram.builder()
      .name("vineyard_migrate_agent_migration_duration_seconds")
      .help("Time from a peer's first request of a migration to its end, by transport and outcome")
      .labelNames("transport", "outcome")
      .classicOnly()
      .classicExponentialUpperBounds(0.005, 4, 10)
      .register(REGISTRY);
  private static final Counter SENT = counter("vineyard_migrate_agent_sent_bytes",
      "Blob bytes sent to peers (pulls and streams)");
  private static final Counter RECEIVED = counter("vineyard_migrate_agent_received_bytes",
      "Blob bytes received from peers into this vineyardd (pushes)");
  private static final Counter PULLED = counter("vineyard_migrate_agent_pulled_bytes",
      "Blob bytes this agent pulled into its vineyardd for a peer's pull session (an agent-run rebalance)");
  private static final Counter PULLED_WIRE = Counter.builder()
      .name("vineyard_migrate_agent_pulled_wire_bytes")
      .help("Bytes that crossed the network for this agent's pulls for peers' pull sessions, by transport, "
          + "the agent link's compression and whether it spoke TLS")
      .labelNames("transport", "compression", "tls")
      .register(REGISTRY);
  private static final Gauge PULL_SESSIONS = gauge("vineyard_migrate_agent_pull_sessions",
      "Pull sessions open (chunks pulled or being pulled, not yet committed or rolled back)");
  private static final Gauge CONNECTIONS = gauge("vineyard_migrate_agent_connections",
      "Open peer connections (authenticated or not yet)");
  private static final Gauge PUSH_SESSIONS = gauge("vineyard_migrate_agent_push_sessions",
      "Push sessions under way (blobs allocated, not yet committed or rolled back)");
  private static final Gauge MAPPED_BLOBS = gauge("vineyard_migrate_agent_mapped_blobs",
      "Source blobs peers have mapped for reading (a reference this agent holds on each at its vineyardd)");
  private static final Counter AUTH_FAILURES = counter("vineyard_migrate_agent_authentication_failures",
      "Peers refused at the handshake: wrong token, malformed or late AUTH");
  private static final Counter RECLAIMED = counter("vineyard_migrate_agent_reclaimed_allocations",
      "Allocations of dead migrations found and freed (crash-safety journal)");

  static {
    JvmMemoryMetrics.builder().register(REGISTRY);
    // every request this agent process sent its vineyardd, by type (the engine's own request log):
    // what docs/scaling.md counts per chunk for agent-run pulls
    io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
        .name("vineyard_migrate_agent_vineyardd_requests")
        .help("Requests this agent process sent to vineyardd, by request type")
        .labelNames("type")
        .callback(callback -> io.v6d.migrate.ipc.RequestLog.snapshot().forEach((type, count) ->
            callback.call(count, type)))
        .register(REGISTRY);
  }

  private AgentMetrics() {}

  private static Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).register(REGISTRY);
  }

  private static Gauge gauge(String name, String help) {
    return Gauge.builder().name(name).help(help).register(REGISTRY);
  }

  /** Loads and registers everything now (at start), not on an event loop with the first peer. */
  public static void load() {
    // the class initializer does the work
  }

  /** One migration served, {@code startedNanos} from {@link System#nanoTime()}. */
  public static void migrationServed(String transport, boolean ok, long startedNanos) {
    String outcome = ok ? "ok" : "failed";
    MIGRATIONS.labelValues(transport, outcome).inc();
    DURATION.labelValues(transport, outcome).observe((System.nanoTime() - startedNanos) / 1e9);
  }

  public static void sent(long bytes) {
    SENT.inc(bytes);
  }

  public static void received(long bytes) {
    RECEIVED.inc(bytes);
  }

  public static void pulled(long bytes) {
    PULLED.inc(bytes);
  }

  /** What one pulled chunk's bytes took on the wire, and how ("local" transports: the bytes copied). */
  public static void pulledOverWire(String transport, long bytesOnWire, String compression, boolean tls) {
    PULLED_WIRE.labelValues(transport, compression, String.valueOf(tls)).inc(bytesOnWire);
  }

  public static void pullSessionOpened() {
    PULL_SESSIONS.inc();
  }

  public static void pullSessionClosed() {
    PULL_SESSIONS.dec();
  }

  /** Counts the connection as open until it closes. */
  public static void connectionOpened(Channel channel) {
    CONNECTIONS.inc();
    channel.closeFuture().addListener(closed -> CONNECTIONS.dec());
  }

  public static void pushSessionOpened() {
    PUSH_SESSIONS.inc();
  }

  public static void pushSessionClosed() {
    PUSH_SESSIONS.dec();
  }

  /** {@code change} blobs were mapped for peers (negative: unmapped). */
  public static void blobsMapped(long change) {
    if (change >= 0) {
      MAPPED_BLOBS.inc(change);
    } else {
      MAPPED_BLOBS.dec(-change);
    }
  }

  public static void authenticationFailed() {
    AUTH_FAILURES.inc();
  }

  /** {@code count} allocations of dead migrations were freed (called by the crash-safety gc). */
  public static void reclaimed(long count) {
    RECLAIMED.inc(count);
  }
}
