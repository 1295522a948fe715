package io.v6d.migrate.agent;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.metrics.AgentMetrics;
import io.v6d.migrate.metrics.Health;
import io.v6d.migrate.protocol.Token;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.tcp.FrameDecoder;
import io.v6d.migrate.tcp.Pipelines;
import io.v6d.migrate.tls.PlaintextPeerCheck;
import io.v6d.migrate.tls.TlsContexts;
import io.v6d.migrate.tls.TlsFiles;
import io.netty.handler.ssl.SslContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code vineyard-migrate serve}: the agent beside one vineyardd. Peers that prove the shared token
 * pull its blobs and push blobs into it. Binds 127.0.0.1 unless told otherwise, and binds
 * elsewhere only with a token given explicitly. Publishes its endpoint in the cluster's metadata
 * ({@link AgentRegistry}) while it runs.
 */
public final class AgentServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentServer.class);

  /**
   * @param socket the IPC socket of the vineyardd it serves
   * @param host the address to bind
   * @param port the port (0: any free port)
   * @param tokenFile the token file; null: {@code VINEYARD_MIGRATE_TOKEN}, else (loopback only) the default file
   * @param advertise the host name peers reach it by (null: the bound address)
   * @param publish publish the endpoint in the cluster's metadata
   * @param idleSeconds close peers idle for this long
   * @param timeoutMillis how long its vineyardd may be silent while the agent waits for it (0: the default)
   * @param tls the agent's certificate, key and (for mutual TLS) client CA; {@link TlsFiles#NONE}: plaintext
   * @param peerTls how it dials other agents when it pulls for a peer's rebalance (null: its own
   *     files, {@link TlsFiles#peer})
   */
  public record Config(String socket, String host, int port, Path tokenFile, String advertise, boolean publish,
      int idleSeconds, long timeoutMillis, TlsFiles tls, TlsFiles peerTls) {
    public Config {
      timeoutMillis = io.v6d.migrate.Timeouts.orDefault(timeoutMillis);
      tls = tls == null ? TlsFiles.NONE : tls;
      peerTls = peerTls == null ? TlsFiles.peer(tls, null, null, null) : peerTls;
    }

    /** Dialling other agents with its own TLS files. */
    public Config(String socket, String host, int port, Path tokenFile, String advertise, boolean publish,
        int idleSeconds, long timeoutMillis, TlsFiles tls) {
      this(socket, host, port, tokenFile, advertise, publish, idleSeconds, timeoutMillis, tls, null);
    }

    /** Plaintext. */
    public Config(String socket, String host, int port, Path tokenFile, String advertise, boolean publish,
        int idleSeconds, long timeoutMillis) {
      this(socket, host, port, tokenFile, advertise, publish, idleSeconds, timeoutMillis, TlsFiles.NONE);
    }

    /** With the default timeout. */
    public Config(String socket, String host, int port, Path tokenFile, String advertise, boolean publish,
        int idleSeconds) {
      this(socket, host, port, tokenFile, advertise, publish, idleSeconds, 0);
    }
  }

  private final Config config;
  private final PushSessions sessions = new PushSessions();
  private final Grants grants = new Grants();
  private final AuthThrottle throttle = new AuthThrottle();
  private final RateLimitedLog authFailures = new RateLimitedLog(LoggerFactory.getLogger(AgentHandshake.class));
  private final EventLoopGroup boss = new NioEventLoopGroup(1, new DefaultThreadFactory("vineyard-migrate-accept"));
  private final EventLoopGroup workers = new NioEventLoopGroup(0, new DefaultThreadFactory("vineyard-migrate-io"));
  private final EventExecutorGroup blocking = new DefaultEventExecutorGroup(32, new DefaultThreadFactory("vineyard-migrate-ipc"));
  /** Threads that wait for streams' next chunks: as many as there are streams being read. */
  private final java.util.concurrent.ExecutorService streamWaits =
      java.util.concurrent.Executors.newCachedThreadPool(new DefaultThreadFactory("vineyard-migrate-stream", true));
  /** Threads that run peers' pull sessions (an agent-run rebalance), off the connections' threads. */
  private final java.util.concurrent.ExecutorService pulls =
      java.util.concurrent.Executors.newCachedThreadPool(new DefaultThreadFactory("vineyard-migrate-pull-order", true));
  private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final VineyardClient control;
  private final AgentEndpoint endpoint;
  /** Reclaims what dead migrations (pushes to this agent, or any other) left on the vineyardd. */
  private io.v6d.migrate.journal.ReclaimSchedule reclaims;
  /** Counts what this process's reclaims free, for /metrics. */
  private final java.util.function.Consumer<io.v6d.migrate.journal.Reclaimed> countReclaims =
      reclaimed -> AgentMetrics.reclaimed(reclaimed.blobs().size());
  private volatile long published = -1;

  private AgentServer(Config config, byte[] token, VineyardClient control) {
    this.config = config;
    this.control = control;
    AgentMetrics.load();
    io.v6d.migrate.journal.Reclaimer.addListener(countReclaims);
    try {
      SslContext tls = config.tls().enabled() ? TlsContexts.server(config.tls()) : null;
      reclaims = io.v6d.migrate.journal.ReclaimSchedule.start(config.socket());
      ServerBootstrap bootstrap = new ServerBootstrap()
          .group(boss, workers)
          .channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              channels.add(ch);
              AgentMetrics.connectionOpened(ch);
              java.util.concurrent.atomic.AtomicBoolean waiting = new java.util.concurrent.atomic.AtomicBoolean();
              if (tls != null) {
                ch.pipeline().addLast("plaintext-check", new PlaintextPeerCheck());
              }
              FrameDecoder decoder = Pipelines.install(ch, config.idleSeconds(), waiting::get,
                  tls == null ? null : tls.newHandler(ch.alloc()));
              ch.pipeline().addLast("handshake", new AgentHandshake(token, decoder, throttle, authFailures));
              ch.pipeline().addLast(blocking, "agent", new AgentHandler(AgentServer.this, decoder, waiting));
            }
          });
      Channel server = bootstrap.bind(config.host(), config.port()).syncUninterruptibly().channel();
      channels.add(server);
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      this.endpoint = new AgentEndpoint(advertisedHost(config), port);
      if (config.publish()) {
        published = AgentRegistry.publish(control, endpoint, tls != null);
      }
      LOG.info("serving vineyardd {} (instance {}) on {}{}", config.socket(), control.instanceId(), endpoint,
          tls == null ? "" : " over TLS 1.3" + (config.tls().ca() != null ? ", client certificates required" : ""));
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Starts an agent; refuses to bind a non-loopback address without an explicit token. */
  public static AgentServer start(Config config) {
    boolean loopback = isLoopback(config.host());
    if (!loopback && config.tokenFile() == null && System.getenv(Token.ENV) == null) {
      throw new MigrateException(ErrorCode.INVALID, "refusing to listen on " + config.host()
          + " without a token: pass --token-file (or set " + Token.ENV + ")");
    }
    VineyardClient control = VineyardClient.connect(config.socket(), config.timeoutMillis());
    try {
      byte[] token;
      if (config.tokenFile() != null || System.getenv(Token.ENV) != null) {
        token = Token.load(config.tokenFile());
      } else {
        token = Token.loadOrCreateDefault();
        LOG.info("no token given: using {}", Token.defaultFile());
      }
      return new AgentServer(config, token, control);
    } catch (RuntimeException e) {
      control.close();
      throw e;
    }
  }

  public AgentEndpoint endpoint() {
    return endpoint;
  }

  /** For /healthz: vineyardd accepts connections and the endpoint is published (unless told not to). */
  public boolean healthy() {
    return (published >= 0 || !config.publish()) && Health.accepts(config.socket());
  }

  /** The agent speaks TLS. */
  public boolean tls() {
    return config.tls().enabled();
  }

  String socket() {
    return config.socket();
  }

  /**
   * A new client of the vineyardd served, under the agent's timeout: no peer waits for ever on a
   * stopped vineyardd. The agent's connections are its own (one per peer connection, pull worker or
   * stream reader, each closed with what it serves), not the caller-side pool's
   * ({@link io.v6d.migrate.pool.ClientPool}), which owns the engine's connections in a caller's process.
   */
  VineyardClient connectVineyard() {
    return VineyardClient.connect(config.socket(), config.timeoutMillis());
  }

  java.util.concurrent.ExecutorService pulls() {
    return pulls;
  }

  /** The token file this agent authenticates with, for its own pulls from other agents (null: as it found it). */
  /** How this agent dials other agents (its pulls for a peer's rebalance). */
  TlsFiles peerTls() {
    return config.peerTls();
  }

  String tokenFile() {
    return config.tokenFile() == null ? null : config.tokenFile().toString();
  }

  java.util.concurrent.ExecutorService streamWaits() {
    return streamWaits;
  }

  PushSessions sessions() {
    return sessions;
  }

  Grants grants() {
    return grants;
  }

  /** The name peers reach this agent by: as told, else the bound address, else (wildcard) this host's name. */
  private static String advertisedHost(Config config) {
    if (config.advertise() != null) {
      return config.advertise();
    }
    try {
      if (!InetAddress.getByName(config.host()).isAnyLocalAddress()) {
        return config.host();
      }
    } catch (UnknownHostException e) {
      return config.host();
    }
    String fromEnv = System.getenv("MY_HOST_NAME");
    try {
      return fromEnv != null && !fromEnv.isBlank() ? fromEnv : InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return config.host();
    }
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new MigrateException(ErrorCode.INVALID, "cannot resolve the address to listen on: " + host);
    }
  }

  /** Unpublishes, closes every connection (rolling back unfinished pushes) and stops. */
  @Override
  public void close() {
    if (published >= 0) {
      try {
        AgentRegistry.unpublish(control, published);
      } catch (MigrateException e) {
        LOG.warn("could not unpublish the agent's endpoint: {}", e.getMessage());
      }
      published = -1;
    }
    channels.close().awaitUninterruptibly();
    io.v6d.migrate.journal.Reclaimer.removeListener(countReclaims);
    if (reclaims != null) {
      reclaims.close();
    }
    boss.shutdownGracefully(0, 5, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 5, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    blocking.shutdownGracefully(0, 5, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    streamWaits.shutdownNow();
    pulls.shutdownNow();
    control.close();
    LOG.info("stopped");
  }
}
