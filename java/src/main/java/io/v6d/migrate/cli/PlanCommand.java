package io.v6d.migrate.cli;

import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationPlan;
import io.v6d.migrate.meta.ObjectIds;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate plan}: a dry run of {@code migrate}. */
@Command(name = "plan", mixinStandardHelpOptions = true,
    description = "Dry run: which blobs would move, how many bytes, which are already on the target, "
        + "and which transport would be chosen. Nothing is created anywhere.")
final class PlanCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "OBJECT", description = "object id (o...) or name")
  String object;

  @Mixin
  TransferOptions transfer;

  @Option(names = "--json", description = "print the plan as JSON")
  boolean json;

  @Override
  public Integer call() {
    MigrationPlan plan = new MigrationEngine().plan(transfer.request(object, null, true));
    if (json) {
      Output.print(System.out, plan.toJson());
      return 0;
    }
    if (plan.alreadyOnTarget()) {
      System.out.println(ObjectIds.format(plan.objectId()) + " is on the target already: nothing to move");
      return 0;
    }
    long copies = plan.blobs().stream().filter(b -> b.action().equals("copy")).count();
    System.out.printf("%s: %d blob(s), %d byte(s) to move by %s; %d blob(s) already on the target%n",
        ObjectIds.format(plan.objectId()), copies, plan.bytesToMove(), String.join("+", plan.transports()),
        plan.blobs().size() - copies);
    for (MigrationPlan.Blob blob : plan.blobs()) {
      System.out.printf("  %s  %-5s %12s  instance %d  %s%n", ObjectIds.format(blob.id()), blob.action(),
          blob.size() < 0 ? "-" : Long.toString(blob.size()), blob.instanceId(), blob.transport());
    }
    return 0;
  }
}
