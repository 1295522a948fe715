package io.v6d.migrate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.cluster.Rebalance;
import io.v6d.migrate.ipc.FrameCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate rebalance}: spread a global object's chunks evenly, moving the fewest bytes. */
@Command(name = "rebalance", mixinStandardHelpOptions = true,
    description = "Spread a global object's chunks over instances so none holds more than its ideal share plus "
        + "less than one chunk, moving the fewest bytes; every target pulls at once. Prints the moves (chunk, "
        + "bytes, from, to) and the bytes per instance before and after; with --plan nothing moves.")
final class RebalanceCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "GLOBAL", description = "the global object's id (o...) or name")
  String object;

  @Option(names = "--to", paramLabel = "INSTANCE",
      description = "an instance to spread over: its IPC socket or instance id (repeat; default: every instance "
          + "with an agent or a socket on this host)")
  List<String> instances = new ArrayList<>();

  @Option(names = "--via", paramLabel = "SOCKET",
      description = "the IPC socket of any instance of the cluster (default: the first --to socket, else "
          + "VINEYARD_IPC_SOCKET)")
  String via;

  @Option(names = "--by", defaultValue = "bytes", paramLabel = "bytes|count",
      description = "balance bytes or chunk counts (default: ${DEFAULT-VALUE})")
  String by;

  @Option(names = "--max-moves", paramLabel = "N", description = "make at most N moves")
  Integer maxMoves;

  @Option(names = "--plan", description = "print the plan only; move nothing")
  boolean planOnly;

  @Option(names = "--name", paramLabel = "NAME", description = "name the new global object")
  String name;

  @Option(names = "--replace", description = "once the new object is persisted, delete the moved chunks' originals")
  boolean replace;

  @Option(names = "--per-source", defaultValue = "2", paramLabel = "N",
      description = "concurrent transfers out of one instance (default: ${DEFAULT-VALUE})")
  int perSource;

  @Option(names = "--per-target", defaultValue = "2", paramLabel = "N",
      description = "concurrent transfers into one instance (default: ${DEFAULT-VALUE})")
  int perTarget;

  @Option(names = "--pulled-by", defaultValue = "auto", paramLabel = "auto|agents|caller",
      description = "who moves the chunks: each target's agent pulls its own (agents), this process copies them "
          + "(caller), or the target's agent when it has one (auto, the default)")
  String pulledBy;

  @Option(names = "--json", description = "print JSON")
  boolean json;

  @Mixin
  HowOptions how;

  @Override
  public Integer call() throws Exception {
    String view = via != null ? via : instances.stream().filter(i -> !i.matches("i?\\d+")).findFirst()
        .orElse(System.getenv("VINEYARD_IPC_SOCKET"));
    if (view == null || view.isBlank()) {
      throw new MigrateException(ErrorCode.INVALID, "no instance to work through: pass --via SOCKET or a --to socket");
    }
    if (maxMoves != null && maxMoves < 0) {
      throw new MigrateException(ErrorCode.INVALID, "--max-moves must not be negative");
    }
    String[] to = instances.toArray(String[]::new);
    int moves = maxMoves == null ? -1 : maxMoves;
    JsonNode out;
    JsonNode plan;
    if (planOnly) {
      out = FrameCodec.mapper().readTree(Rebalance.planJson(object, view, to, by, moves, how.options()));
      plan = out;
    } else {
      out = FrameCodec.mapper().readTree(Rebalance.run(object, view, to, by, moves, true, name, replace, perSource,
          perTarget, pulledBy, how.options()));
      plan = out.path("plan");
    }
    if (json) {
      Output.print(System.out, out);
      return 0;
    }
    System.out.printf("%d move(s), %d byte(s)%s%n", plan.path("moves").size(), plan.path("bytes_moved").asLong(),
        plan.path("optimal").asBoolean() ? " (the fewest possible)" : "");
    for (JsonNode m : plan.path("moves")) {
      System.out.printf("  %s  %12d  %d -> %d%n", m.path("chunk").asText(), m.path("bytes").asLong(),
          m.path("from").asLong(), m.path("to").asLong());
    }
    System.out.println("bytes per instance (before -> after):");
    plan.path("bytes_before").fields().forEachRemaining(e -> System.out.printf("  %s  %12d -> %d%n", e.getKey(),
        e.getValue().asLong(), plan.path("bytes_after").path(e.getKey()).asLong()));
    if (!planOnly) {
      System.out.println(out.path("object_id").asText());
    }
    return 0;
  }
}
