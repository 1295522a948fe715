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

  TransportChoice choice() {
    return TransportChoice.parse(transport);
  }

  TcpOptions tcp() {
    return new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes());
  }
}
