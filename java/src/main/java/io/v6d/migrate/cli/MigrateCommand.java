package io.v6d.migrate.cli;

import io.v6d.migrate.engine.EngineCall;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.transport.ProgressListener;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vineyard-migrate migrate OBJECT... --to TARGET [--from SOURCE]}: prints the new object ids,
 * one a line; several objects go as one batch, all or nothing.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
    description = "Migrate objects (ids or names) to another vineyardd, on this host or another; several "
        + "objects go as one batch: all of them or none.")
final class MigrateCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "OBJECT", description = "object id (o...) or name")
  java.util.List<String> objects;

  @Mixin
  TransferOptions transfer;

  @Option(names = "--name", description = "name the migrated object on the target")
  String name;

  @Option(names = "--overwrite-name",
      description = "with --name: move the name to the migrated object even when it names another object there")
  boolean overwriteName;

  @Option(names = "--copy",
      description = "make a fresh copy even when an earlier migration left one on the target instance")
  boolean copy;

  @Option(names = "--no-persist", description = "do not persist the migrated object")
  boolean noPersist;

  @Option(names = "--json", description = "print the result as JSON")
  boolean json;

  private static final long ROLLBACK_WAIT_MILLIS = 30_000;

  @Override
  public Integer call() throws InterruptedException {
    if (objects.size() > 1 && name != null) {
      throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.INVALID, "--name names one object");
    }
    java.util.List<MigrationRequest> requests =
        objects.stream().map(object -> transfer.request(object, name, !noPersist, overwriteName, copy)).toList();
    EngineCall<java.util.List<MigrationResult>> migration = EngineCall.start(() -> requests.size() == 1
        ? java.util.List.of(new MigrationEngine().migrate(requests.get(0), ProgressListener.NONE))
        : new MigrationEngine().migrateMany(requests, ProgressListener.NONE));
    // Ctrl-C or SIGTERM: the JVM runs its shutdown hooks before it halts; this one cancels the
    // migration and waits for its rollback, so that the target is left as it was.
    Thread rollBackOnExit = new Thread(() -> {
      migration.cancel();
      try {
        migration.waitFor(ROLLBACK_WAIT_MILLIS);
      } catch (InterruptedException ignored) {
        // halting anyway
      }
    }, "vineyard-migrate-cancel");
    Runtime.getRuntime().addShutdownHook(rollBackOnExit);
    java.util.List<MigrationResult> results;
    try {
      migration.waitFor(-1);
      results = migration.result();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(rollBackOnExit);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs, or has run
      }
    }
    for (MigrationResult result : results) {
      if (json) {
        Output.print(System.out, Output.json(result));
      } else {
        System.out.println(result.targetIdString());
      }
    }
    return 0;
  }
}
