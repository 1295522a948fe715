package io.v6d.migrate.cli;

import io.v6d.migrate.Migrate;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationResult;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vineyard-migrate}: the engine as a command-line tool ({@code java -jar ...}). */
@Command(
    name = "vineyard-migrate",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Migrate vineyard objects between vineyardd instances.",
    subcommands = {Main.MigrateCommand.class})
public final class Main implements Runnable {
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code (0 on success). */
  public static int run(String... args) {
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setExecutionExceptionHandler((e, cl, parsed) -> {
      String message = e instanceof MigrateException m ? m.code() + ": " + m.getMessage() : e.toString();
      cl.getErr().println("vineyard-migrate: " + message);
      return 1;
    });
    return commandLine.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  @Command(name = "migrate", mixinStandardHelpOptions = true,
      description = "Migrate one object (an id or a name) to another vineyardd on this host.")
  static final class MigrateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "OBJECT", description = "object id (o...) or name")
    String object;

    @Option(names = "--to", required = true, paramLabel = "SOCKET", description = "target vineyardd IPC socket")
    String target;

    @Option(names = "--from", paramLabel = "SOCKET",
        description = "source vineyardd IPC socket (default: the holder, found through the target's cluster)")
    String source;

    @Option(names = "--name", description = "name the migrated object on the target")
    String name;

    @Option(names = "--no-persist", description = "do not persist the migrated object")
    boolean noPersist;

    @Override
    public Integer call() {
      MigrationResult result = Migrate.migrate(object, target, source, name, !noPersist);
      System.out.println(result.targetIdString());
      return 0;
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"vineyard-migrate " + Migrate.version()};
    }
  }
}
