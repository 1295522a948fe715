package io.v6d.migrate.protocol;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shared secret of agents and clients: read from a file (first line, trimmed), from
 * {@code VINEYARD_MIGRATE_TOKEN}, or, for same-user use on one host, from a default file that the
 * agent creates (mode 0600) when none exists.
 *
 * <p>As ssh does with keys, a token file that group or others may access is refused. A token
 * must carry at least 128 bits by {@link TokenStrength}'s estimate.
 */
public final class Token {
  public static final String ENV = "VINEYARD_MIGRATE_TOKEN";

  private Token() {}

  /** {@code ~/.vineyard-migrate/token}. */
  public static Path defaultFile() {
    return Path.of(System.getProperty("user.home"), ".vineyard-migrate", "token");
  }

  /** The token from {@code file} if given, else the environment, else the default file. */
  public static byte[] load(Path file) {
    if (file != null) {
      return read(file);
    }
    String fromEnv = System.getenv(ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      return check(fromEnv.trim(), ENV);
    }
    if (Files.exists(defaultFile())) {
      return read(defaultFile());
    }
    throw new MigrateException(ErrorCode.INVALID,
        "no token to authenticate with the agent: pass a token file, set " + ENV + ", or create "
            + defaultFile() + " (the agent creates it when started without one)");
  }

  /** Loads the default token file, creating it with a random token (mode 0600) when missing. */
  public static byte[] loadOrCreateDefault() {
    Path file = defaultFile();
    if (!Files.exists(file)) {
      try {
        Files.createDirectories(file.getParent());
        Path tmp = Files.createTempFile(file.getParent(), "token", ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, HexFormat.of().formatHex(Handshake.nonce()) + "\n");
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (java.nio.file.FileAlreadyExistsException raced) {
        // another agent created it first: use theirs
      } catch (IOException e) {
        throw new MigrateException(ErrorCode.IO_ERROR, "cannot create the token file " + file + ": " + e.getMessage(), e);
      }
    }
    return read(file);
  }

  /** A token file as last read, with what identified its state then ({@link #stamp}). */
  private record ReadToken(Map<String, Object> stamp, byte[] token) {}

  /** Token files read before: a warm call stats its file once instead of checking and reading it. */
  private static final Map<Path, ReadToken> READ = new ConcurrentHashMap<>();
  private static final int MAX_REMEMBERED = 16;

  private static byte[] read(Path file) {
    Map<String, Object> stamp = stamp(file);
    ReadToken known = stamp == null ? null : READ.get(file);
    if (known != null && known.stamp().equals(stamp)) {
      return known.token().clone();
    }
    requirePrivate(file);
    try {
      String text = Files.readAllLines(file, StandardCharsets.UTF_8).stream().findFirst().orElse("").trim();
      byte[] token = check(text, file.toString());
      if (stamp != null) {
        if (READ.size() >= MAX_REMEMBERED) {
          READ.clear();
        }
        READ.put(file, new ReadToken(stamp, token.clone()));
      }
      return token;
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.INVALID, "cannot read the token file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * What changes whenever the file's content, mode or owner does, or it is replaced (a rotated
   * Secret's symlink then leads to another inode): its inode, device, size and change time, which
   * no one can set back. Null where the file system cannot say (the file is then read every time).
   */
  private static Map<String, Object> stamp(Path file) {
    try {
      return Files.readAttributes(file, "unix:ino,dev,size,ctime,mode,uid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * Refuses a token file that group or others may read or write (mode bits 077), as ssh does; one
   * exception, PostgreSQL's rule for its key files: a file owned by root may also be readable by its
   * group (0640 or less). That is how Kubernetes hands a Secret to a non-root container (files owned
   * by root, group {@code fsGroup}), and only root can have made such a file.
   */
  static void requirePrivate(Path file) {
    Set<PosixFilePermission> permissions;
    try {
      permissions = Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException e) {
      return; // not a POSIX file system: nothing to judge
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.INVALID, "cannot read the token file " + file + ": " + e.getMessage(), e);
    }
    Set<PosixFilePermission> open = EnumSet.copyOf(permissions);
    open.removeAll(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_EXECUTE));
    if (open.equals(EnumSet.of(PosixFilePermission.GROUP_READ)) && ownedByRoot(file)) {
      return;
    }
    if (!open.isEmpty()) {
      throw new MigrateException(ErrorCode.INVALID, "the token file " + file + " is accessible by group or others ("
          + PosixFilePermissions.toString(permissions) + "): a token must be private; run `chmod 600 " + file
          + "` (a root-owned file may be 0640)");
    }
  }

  private static boolean ownedByRoot(Path file) {
    try {
      return "root".equals(Files.getOwner(file).getName());
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  private static byte[] check(String token, String where) {
    String weakness = TokenStrength.weakness(token);
    if (weakness != null) {
      throw new MigrateException(ErrorCode.INVALID, "the token in " + where + " is too weak: " + weakness
          + "; use at least 128 random bits, e.g. `openssl rand -hex 32`");
    }
    return token.getBytes(StandardCharsets.UTF_8);
  }
}
