package io.v6d.migrate.cli;

import io.v6d.migrate.Migrate;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.MigrationEngine;
import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.transport.ProgressListener;
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
    subcommands = {Main.MigrateCommand.class, ServeCommand.class})
public final class Main implements Runnable {
  public static void main(String[] args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }
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
      description = "Migrate one object (an id or a name) to another vineyardd.")
  static final class MigrateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "OBJECT", description = "object id (o...) or name")
    String object;

    @Option(names = "--to", required = true, paramLabel = "TARGET",
        description = "target: vineyardd IPC socket, or tcp://host:port of its agent (push)")
    String target;

    @Option(names = "--from", paramLabel = "SOURCE",
        description = "source: vineyardd IPC socket, tcp://host:port of its agent, or rpc://host:port of vineyardd "
            + "(default: the holder, found through the target's cluster)")
    String source;

    @Option(names = "--transport", defaultValue = "auto", description = "auto, local, tcp or rpc (default: ${DEFAULT-VALUE})")
    String transport;

    @Option(names = "--token-file", paramLabel = "FILE", description = "the agents' shared token")
    String tokenFile;

    @Option(names = "--name", description = "name the migrated object on the target")
    String name;

    @Option(names = "--no-persist", description = "do not persist the migrated object")
    boolean noPersist;

    @Override
    public Integer call() {
      MigrationResult result = new MigrationEngine().migrate(new MigrationRequest(object, target, source, name,
          !noPersist, TransportChoice.parse(transport), tokenFile, null), ProgressListener.NONE);
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
