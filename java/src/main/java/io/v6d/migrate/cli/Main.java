package io.v6d.migrate.cli;

import io.v6d.migrate.Migrate;
import io.v6d.migrate.MigrateException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code vineyard-migrate}: the engine as a command-line tool ({@code java -jar ...}). */
@Command(
    name = "vineyard-migrate",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    // subcommands inherit the version provider: `vineyard-migrate serve --version` prints it too
    scope = CommandLine.ScopeType.INHERIT,
    description = "Migrate vineyard objects between vineyardd instances.",
    footer = {"", "Also: `vineyard-migrate doctor` checks Java, vineyard, sockets, agents and the token file; "
        + "the vineyard-migrate 0.7 form (--server/--client ...) still works (see the README)."},
    subcommands = {MigrateCommand.class, PlanCommand.class, StreamCommand.class, ToLocalCommand.class,
        RebalanceCommand.class,
        ServeCommand.class, GcCommand.class})
public final class Main implements Runnable {
  public static void main(String[] args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }
    quietUnlessServing(args);
    allowNettyUnzeroedDirectMemory();
    System.exit(run(args));
  }

  /**
   * Lets Netty's pooled allocator take new direct memory without zeroing it, as it does on Java 8:
   * the jar's manifest opens java.nio to it ({@code Add-Opens}, honoured by {@code java -jar}), and
   * this property (Netty's, under the jar's relocated prefix) makes Netty use that access. Zeroing
   * each new 4 MiB pool chunk was 4-7% of a TLS agent's samples (the ciphertext buffers churn
   * chunks); pooled memory is handed out unzeroed anyway once recycled. Before any Netty class loads;
   * a value the user set stays.
   */
  private static void allowNettyUnzeroedDirectMemory() {
    String nettyPrefix = io.netty.util.internal.PlatformDependent.class.getName()
        .replace("util.internal.PlatformDependent", "");
    System.getProperties().putIfAbsent(nettyPrefix + "tryReflectionSetAccessible", "true");
  }

  /**
   * The agent logs (INFO and up); the one-shot tools keep stderr for their one line of error, unless
   * {@code VINEYARD_MIGRATE_LOG} names a level (SEVERE, WARNING, INFO, FINE, ...).
   */
  private static void quietUnlessServing(String[] args) {
    String level = System.getenv("VINEYARD_MIGRATE_LOG");
    boolean serving = args.length > 0 && args[0].equals("serve");
    java.util.logging.Logger.getLogger("").setLevel(level != null && !level.isBlank()
        ? java.util.logging.Level.parse(level.trim().toUpperCase(java.util.Locale.ROOT))
        : serving ? java.util.logging.Level.INFO : java.util.logging.Level.OFF);
  }

  /** Runs the command line and returns its exit code (0 on success). */
  public static int run(String... args) {
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setExecutionExceptionHandler((e, cl, parsed) -> {
      String message = e instanceof MigrateException m ? m.code() + ": " + m.getMessage() : e.toString();
      cl.getErr().println("vineyard-migrate: " + message);
      return 1;
    });
    commandLine.setParameterExceptionHandler((e, parsed) -> {
      e.getCommandLine().getErr().println("vineyard-migrate: " + e.getMessage() + " (see "
          + e.getCommandLine().getCommandSpec().qualifiedName() + " --help)");
      return 2;
    });
    return commandLine.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"vineyard-migrate " + Migrate.version()};
    }
  }
}
