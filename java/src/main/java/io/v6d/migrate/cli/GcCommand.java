package io.v6d.migrate.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.v6d.migrate.Migrate;
import io.v6d.migrate.journal.Reclaimed;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vineyard-migrate gc}: reclaims, on demand, what dead migrations left on a vineyardd. */
@Command(name = "gc", mixinStandardHelpOptions = true,
    description = {"Reclaim what migrations whose process died (kill -9, a crashed host process) left on a vineyardd:",
        "their blobs, metadata objects and names, as recorded in their journal on that vineyardd.",
        "Live migrations and anything no journal lists are never touched. Agents and new migrations do this too."})
final class GcCommand implements Callable<Integer> {
  @Option(names = "--socket", required = true, paramLabel = "SOCKET", description = "IPC socket of the vineyardd")
  String socket;

  @Option(names = "--json", description = "print what was reclaimed as JSON (a list, one entry per dead migration)")
  boolean json;

  @Override
  public Integer call() {
    List<Reclaimed> reclaimed = Migrate.reclaim(socket);
    if (json) {
      ArrayNode list = io.v6d.migrate.ipc.FrameCodec.mapper().createArrayNode();
      reclaimed.forEach(r -> list.add(r.toJson()));
      Output.print(System.out, list);
      return 0;
    }
    if (reclaimed.isEmpty()) {
      System.out.println("nothing to reclaim on " + socket);
      return 0;
    }
    for (Reclaimed r : reclaimed) {
      System.out.printf("reclaimed migration %s (pid %d on %s): %d blob(s), %d byte(s), %d object(s)%s%n", r.owner(),
          r.pid(), r.host(), r.blobs().size(), r.bytes(), r.objects().size(),
          r.names().isEmpty() ? "" : ", name(s) " + String.join(", ", r.names()));
    }
    return 0;
  }
}
