package io.v6d.migrate.cli;

import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.StreamMigration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate stream}: forward a stream as it is written; prints the target stream id at once. */
@Command(name = "stream", mixinStandardHelpOptions = true,
    description = {"Forward a stream (ByteStream, RecordBatchStream, DataframeStream) to another vineyardd, chunk by "
        + "chunk as the source produces it.",
        "Prints the target stream's id as soon as it exists, then waits until the source stream ends "
            + "(exit 0) or fails (exit 1; the target stream is marked failed)."})
final class StreamCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "STREAM", description = "stream id (o...) or name")
  String stream;

  @Mixin
  TransferOptions transfer;

  @Option(names = "--max-in-flight", defaultValue = "268435456", paramLabel = "BYTES",
      description = "forwarded chunks not yet read on the target, at most (default: ${DEFAULT-VALUE})")
  long maxInFlight;

  @Option(names = "--json", description = "print the target stream id, then the outcome, as JSON lines")
  boolean json;

  @Override
  public Integer call() {
    StreamMigration migration = new MigrationEngine().migrateStream(transfer.request(stream, null, true), maxInFlight);
    System.out.println(json ? "{\"stream_id\": \"" + migration.targetStreamIdString() + "\"}" : migration.targetStreamIdString());
    System.out.flush();
    migration.await(-1);
    if (json) {
      System.out.printf("{\"stream_id\": \"%s\", \"state\": \"%s\", \"chunks\": %d, \"bytes\": %d}%n",
          migration.targetStreamIdString(), migration.state(), migration.chunks(), migration.bytes());
    }
    MigrateException error = migration.error();
    if (error != null) {
      throw error;
    }
    return 0;
  }
}
