package io.v6d.migrate.cli;

import io.v6d.migrate.Migrate;
import io.v6d.migrate.ipc.FrameCodec;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate to-local}: a rank's share of a global object, gathered onto its instance. */
@Command(name = "to-local", mixinStandardHelpOptions = true,
    description = {"Migrate rank RANK's share of a global object (of REPLICA ranks) to the vineyardd at --to, and "
        + "print the local chunk ids, one a line.",
        "The share follows the original vineyard-migrate-to-local: chunks sorted by node name, then id, in "
            + "REPLICA contiguous parts."})
final class ToLocalCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "GLOBAL", description = "global object id (o...) or name")
  String object;

  @Option(names = "--replica", required = true, description = "how many ranks share the object")
  int replica;

  @Option(names = "--rank", required = true, description = "this rank, from 0")
  int rank;

  @Option(names = "--to", required = true, paramLabel = "SOCKET", description = "this rank's vineyardd IPC socket")
  String target;

  @Mixin
  HowOptions how;

  @Option(names = "--json", description = "print the ids as a JSON list")
  boolean json;

  @Override
  public Integer call() {
    String[] ids = Migrate.migrateToLocal(object, replica, rank, target, how.options());
    if (json) {
      var out = FrameCodec.mapper().createObjectNode();
      var chunks = out.putArray("chunks");
      for (String id : ids) {
        chunks.add(id);
      }
      Output.print(System.out, out);
    } else {
      for (String id : ids) {
        System.out.println(id);
      }
    }
    return 0;
  }
}
