package io.v6d.migrate.cli;

import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.transport.ProgressListener;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate migrate OBJECT --to TARGET [--from SOURCE]}: prints the new object id. */
@Command(name = "migrate", mixinStandardHelpOptions = true,
    description = "Migrate one object (an id or a name) to another vineyardd, on this host or another.")
final class MigrateCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "OBJECT", description = "object id (o...) or name")
  String object;

  @Mixin
  TransferOptions transfer;

  @Option(names = "--name", description = "name the migrated object on the target")
  String name;

  @Option(names = "--no-persist", description = "do not persist the migrated object")
  boolean noPersist;

  @Option(names = "--json", description = "print the result as JSON")
  boolean json;

  @Override
  public Integer call() {
    MigrationResult result = new MigrationEngine().migrate(transfer.request(object, name, !noPersist), ProgressListener.NONE);
    if (json) {
      Output.print(System.out, Output.json(result));
    } else {
      System.out.println(result.targetIdString());
    }
    return 0;
  }
}
