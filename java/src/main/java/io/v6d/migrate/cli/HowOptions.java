package io.v6d.migrate.cli;

import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.tcp.TcpOptions;
import picocli.CommandLine.Option;

/** How bytes travel: the options every moving subcommand shares. */
final class HowOptions {
  @Option(names = "--transport", defaultValue = "auto", paramLabel = "auto|local|tcp|rpc",
      description = "how the bytes travel (default: ${DEFAULT-VALUE})")
  String transport;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "the agents' shared token (default: VINEYARD_MIGRATE_TOKEN, else ~/.vineyard-migrate/token)")
  String tokenFile;

  @Option(names = "--connections", defaultValue = "4", paramLabel = "N",
      description = "at most N parallel TCP connections (default: ${DEFAULT-VALUE})")
  int connections;

  @Option(names = "--timeout", defaultValue = "30", paramLabel = "SECONDS",
      description = "how long any peer (vineyardd, an agent) may stay silent while we wait for it; progress "
          + "restarts the clock (default: ${DEFAULT-VALUE})")
  double timeoutSeconds;

  @Option(names = "--compression", defaultValue = "none", paramLabel = "auto|lz4|zstd|none",
      description = "compress blob bytes on the agent link; auto: only while it pays (default: ${DEFAULT-VALUE})")
  String compression;

  @Option(names = "--tls", description = "speak TLS 1.3 to agents (implied by any --tls-* file)")
  boolean tls;

  @Option(names = "--tls-ca", paramLabel = "PEM", description = "the CA that signed the agents' certificates "
      + "(default: the JDK's trust store)")
  String tlsCa;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "our certificate, for agents that require one (mutual TLS)")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "the key of --tls-cert, PKCS#8 PEM")
  String tlsKey;

  long timeoutMillis() {
    return millis(timeoutSeconds);
  }

  /** Seconds given on the command line, as milliseconds; refuses what is not a positive duration. */
  static long millis(double seconds) {
    if (!(seconds > 0) || seconds * 1000 > io.v6d.migrate.Timeouts.MAX_MILLIS) {
      throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.INVALID,
          "--timeout must be a positive number of seconds, at most " + io.v6d.migrate.Timeouts.MAX_MILLIS / 1000
              + ", not " + seconds);
    }
    return Math.max(1, (long) Math.ceil(seconds * 1000));
  }

  /** These options for the engine's public calls. */
  io.v6d.migrate.MigrateOptions options() {
    return new io.v6d.migrate.MigrateOptions().transport(transport).tokenFile(tokenFile).connections(connections)
        .timeoutMillis(timeoutMillis()).compression(compression).tls(tls).tlsCa(tlsCa).tlsCert(tlsCert).tlsKey(tlsKey);
  }

  TransportChoice choice() {
    return TransportChoice.parse(transport);
  }

  TcpOptions tcp() {
    return new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes()).withTls(options().tlsFiles())
        .withCompression(io.v6d.migrate.compress.Compression.parse(compression));
  }
}
