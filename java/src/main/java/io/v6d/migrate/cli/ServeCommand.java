package io.v6d.migrate.cli;

import io.v6d.migrate.agent.AgentServer;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.metrics.MetricsServer;
import io.v6d.migrate.tls.TlsFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/** {@code vineyard-migrate serve}: runs the agent until SIGTERM or SIGINT. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Serve the blobs of a vineyardd to peers over TCP (pull), and accept blobs into it (push).",
        "Binds 127.0.0.1 unless told otherwise; binding another address needs --token-file (or VINEYARD_MIGRATE_TOKEN).",
        "Peers prove the shared token by challenge-response; it never crosses the wire."})
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--socket", required = true, paramLabel = "SOCKET", description = "IPC socket of the vineyardd to serve")
  String socket;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--port", defaultValue = "9700", description = "port to listen on, 0 for any (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "file whose first line is the shared token (default: VINEYARD_MIGRATE_TOKEN, or ~/.vineyard-migrate/token on loopback)")
  Path tokenFile;

  @Option(names = "--advertise", paramLabel = "HOST", description = "host name peers reach this agent by (default: the listening address)")
  String advertise;

  @Option(names = "--no-publish", description = "do not publish the endpoint in the cluster's metadata")
  boolean noPublish;

  int idleSeconds;

  @Spec
  CommandSpec spec;

  @Option(names = "--idle-timeout", defaultValue = "120", paramLabel = "SECONDS", description = "close peers idle this long (default: ${DEFAULT-VALUE})")
  void idleSeconds(int seconds) {
    if (seconds <= 0) {
      throw new ParameterException(spec.commandLine(),
          "--idle-timeout must be a positive number of seconds, not " + seconds);
    }
    idleSeconds = seconds;
  }

  @Option(names = "--timeout", defaultValue = "30", paramLabel = "SECONDS",
      description = "how long the served vineyardd may leave a request unanswered before the peer gets an error "
          + "(default: ${DEFAULT-VALUE})")
  double timeoutSeconds;

  @Option(names = "--metrics-port", paramLabel = "PORT",
      description = "serve /metrics (Prometheus text format) and /healthz on this port, 0 for any (default: off)")
  Integer metricsPort;

  @Option(names = "--metrics-host", defaultValue = "127.0.0.1",
      description = "address the metrics port listens on (default: ${DEFAULT-VALUE})")
  String metricsHost;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "speak TLS 1.3 with this certificate (chain), PEM")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "the certificate's private key, PKCS#8 PEM")
  String tlsKey;

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "require clients to present a certificate signed by this CA (mutual TLS)")
  String tlsCa;

  @Option(names = "--peer-tls-ca", paramLabel = "PEM",
      description = "the CA other agents' certificates must be signed by when this agent pulls from them for a "
          + "rebalance (default: --tls-ca, else the JVM's trusted CAs)")
  String peerTlsCa;

  @Option(names = "--peer-tls-cert", paramLabel = "PEM",
      description = "the certificate this agent presents to other agents (default: --tls-cert, which then must "
          + "allow client use: extendedKeyUsage clientAuth)")
  String peerTlsCert;

  @Option(names = "--peer-tls-key", paramLabel = "PEM", description = "the key of --peer-tls-cert, PKCS#8 PEM")
  String peerTlsKey;

  @Override
  public Integer call() throws InterruptedException, IOException {
    if (tokenFile != null) {
      tokenFile = Path.of(MigrationRequest.expandHome(tokenFile.toString()));
    }
    TlsFiles tls = TlsFiles.server(expand(tlsCert), expand(tlsKey), expand(tlsCa));
    AgentServer agent = AgentServer.start(new AgentServer.Config(socket, host, port, tokenFile, advertise, !noPublish,
        idleSeconds, HowOptions.millis(timeoutSeconds), tls,
        TlsFiles.peer(tls, expand(peerTlsCa), expand(peerTlsCert), expand(peerTlsKey))));
    try (MetricsServer metrics = metricsPort == null ? null : MetricsServer.start(metricsHost, metricsPort, agent::healthy)) {
      return serve(agent, metrics);
    } finally {
      agent.close();
    }
  }

  private static String expand(String path) {
    return MigrationRequest.expandHome(path);
  }

  private static int serve(AgentServer agent, MetricsServer metrics) throws InterruptedException {
    CountDownLatch stop = new CountDownLatch(1);
    // SIGTERM/SIGINT end the agent cleanly (exit 0): connections closed, unfinished pushes rolled
    // back, the endpoint unpublished.
    for (String signal : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(signal), received -> stop.countDown());
    }
    System.out.println("listening on " + agent.endpoint());
    if (metrics != null) {
      System.out.println("metrics on port " + metrics.port());
    }
    System.out.flush();
    stop.await();
    return 0;
  }
}
