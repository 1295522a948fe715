package io.v6d.migrate.cli;

import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.tcp.TcpOptions;
import picocli.CommandLine.Option;

/** The options every moving subcommand shares: where from, where to, how. */
final class TransferOptions {
  @Option(names = "--to", required = true, paramLabel = "TARGET",
      description = "target: vineyardd IPC socket, or tcp://host:port of the agent beside it (push)")
  String target;

  @Option(names = "--from", paramLabel = "SOURCE",
      description = "source: vineyardd IPC socket, tcp://host:port of its agent, or rpc://host:port of its "
          + "vineyardd (default: the holder, found through the target's cluster)")
  String source;

  @Option(names = "--transport", defaultValue = "auto", paramLabel = "auto|local|tcp|rpc",
      description = "how the bytes travel (default: ${DEFAULT-VALUE})")
  String transport;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "the agents' shared token (default: VINEYARD_MIGRATE_TOKEN, else ~/.vineyard-migrate/token)")
  String tokenFile;

  @Option(names = "--connections", defaultValue = "4", paramLabel = "N",
      description = "at most N parallel TCP connections (default: ${DEFAULT-VALUE})")
  int connections;

  MigrationRequest request(String object, String name, boolean persist) {
    return new MigrationRequest(object, target, source, name, persist, TransportChoice.parse(transport), tokenFile,
        new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes()));
  }
}
