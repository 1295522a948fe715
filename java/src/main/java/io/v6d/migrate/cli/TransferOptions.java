package io.v6d.migrate.cli;

import io.v6d.migrate.engine.MigrationRequest;
import picocli.CommandLine.Mixin;
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

  @Mixin
  HowOptions how;

  MigrationRequest request(String object, String name, boolean persist) {
    return request(object, name, persist, false);
  }

  MigrationRequest request(String object, String name, boolean persist, boolean overwriteName) {
    return request(object, name, persist, overwriteName, false);
  }

  MigrationRequest request(String object, String name, boolean persist, boolean overwriteName, boolean copy) {
    return new MigrationRequest(object, target, source, name, persist, how.choice(), how.tokenFile, how.tcp(),
        overwriteName, how.timeoutMillis(), copy);
  }
}
