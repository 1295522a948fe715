package io.v6d.migrate.journal;

import java.nio.file.Path;

/**
 * Where the owners of migrations into one vineyardd keep their locks: a directory beside its IPC
 * socket ({@code <socket>.migrate}), which every process that can reach the socket shares, across
 * containers too; or, when {@value #ENV} (or the system property {@value #PROPERTY}) names a
 * directory, {@code <that directory>/<socket's file name>.migrate}.
 */
public final class LockDirs {
  public static final String ENV = "VINEYARD_MIGRATE_LOCK_DIR";
  public static final String PROPERTY = "io.v6d.migrate.lockDir";

  private LockDirs() {}

  public static Path forSocket(String socket) {
    Path path = Path.of(socket).toAbsolutePath().normalize();
    String name = path.getFileName() + ".migrate";
    String configured = System.getProperty(PROPERTY, System.getenv(ENV));
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured).toAbsolutePath().resolve(name);
    }
    return path.resolveSibling(name);
  }
}
