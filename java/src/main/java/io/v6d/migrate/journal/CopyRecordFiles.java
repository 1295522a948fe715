package io.v6d.migrate.journal;

import io.v6d.migrate.meta.ObjectIds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable record of which copy a migration made on a vineyardd, kept in its lock directory
 * ({@link LockDirs}, shared by every process that reaches its IPC socket, the agent included):
 * {@code copies/<sha-256 of instance and tag>} holds the copy's id, the instance and the tag, written
 * atomically (a temporary file renamed into place) once the copy is committed. Beside it,
 * {@code <same name>.lock} is flocked by the process copying that object to that instance, so that
 * another process waits for it and then finds its record instead of copying again (the kernel drops
 * the flock of a killed process). A record only points: its reader checks the copy on vineyardd.
 */
public final class CopyRecordFiles {
  private static final Logger LOG = LoggerFactory.getLogger(CopyRecordFiles.class);
  private static final String LOCK = ".lock";
  private static final String TEMPORARY = ".tmp";
  /** Records larger than this are not ours: a tag is a source key, an id and a signature. */
  private static final long MAX_RECORD_BYTES = 64 * 1024;
  /** Leftovers (temporary files of killed writers, locks without a record) older than this are removed by a sweep. */
  private static final long LEFTOVER_MILLIS = 60_000;

  /** One digest a thread: {@code MessageDigest.getInstance} looks the provider up on every call. */
  private static final ThreadLocal<MessageDigest> SHA_256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  });

  private CopyRecordFiles() {}

  /** The record's file for {@code tag} on instance {@code instance} behind {@code socket}. */
  static Path fileOf(String socket, long instance, String tag) {
    byte[] digest = SHA_256.get().digest((instance + "\n" + tag).getBytes(StandardCharsets.UTF_8));
    return dirOf(socket).resolve(HexFormat.of().formatHex(digest));
  }

  static Path dirOf(String socket) {
    return LockDirs.forSocket(socket).resolve("copies");
  }

  /** The copy the record names, when there is a record of exactly this instance and tag. */
  public static OptionalLong read(String socket, long instance, String tag) {
    return parse(fileOf(socket, instance, tag), instance, tag);
  }

  private static OptionalLong parse(Path file, long instance, String tag) {
    if (!Files.isRegularFile(file)) { // a stat that throws nothing: most objects were never migrated there
      return OptionalLong.empty();
    }
    try {
      if (Files.size(file) > MAX_RECORD_BYTES) {
        return OptionalLong.empty();
      }
      String[] lines = Files.readString(file, StandardCharsets.UTF_8).split("\n", 3);
      if (lines.length == 3 && lines[1].equals(Long.toString(instance)) && (tag == null || lines[2].equals(tag + "\n"))) {
        return OptionalLong.of(ObjectIds.parse(lines[0]));
      }
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    } catch (IOException | RuntimeException e) {
      LOG.debug("unreadable copy record {}: {}", file, e.toString());
    }
    return OptionalLong.empty();
  }

  /** Records {@code copy} (committed) as the copy of {@code tag} on {@code instance}; a failure is only logged. */
  public static void write(String socket, long instance, String tag, long copy) {
    Path file = fileOf(socket, instance, tag);
    Path temporary = file.resolveSibling("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current()
        .nextLong()) + TEMPORARY);
    String record = ObjectIds.format(copy) + "\n" + instance + "\n" + tag + "\n";
    try {
      try {
        Files.writeString(temporary, record, StandardCharsets.UTF_8);
      } catch (NoSuchFileException e) { // the first record of this instance: made here, not checked on every write
        Files.createDirectories(file.getParent());
        Files.writeString(temporary, record, StandardCharsets.UTF_8);
      }
      Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      deleteQuietly(temporary);
      LOG.warn("cannot record copy {} in {} ({}): another process migrating the same object will copy it again",
          ObjectIds.format(copy), file.getParent(), e.toString());
    }
  }

  /** Removes the record of {@code tag} when it still names {@code copy} (which is gone or not that copy). */
  public static void removeIfNames(String socket, long instance, String tag, long copy) {
    Path file = fileOf(socket, instance, tag);
    if (parse(file, instance, tag).equals(OptionalLong.of(copy))) {
      deleteQuietly(file);
    }
  }

  /**
   * Takes the claim on copying {@code tag} to {@code instance}: waits while another process (or
   * thread) holds it, up to {@code waitMillis}, calling {@code checkpoint} (which throws when the
   * caller is cancelled) between tries; an interrupt fails the wait. When the wait runs out or the
   * lock directory cannot be used, returns {@link Claim#NONE}: the caller then copies unclaimed (a
   * duplicate copy is better than a failure).
   */
  public static Claim claim(String socket, long instance, String tag, long waitMillis, Runnable checkpoint) {
    long deadline = System.nanoTime() + Math.max(0, Math.min(waitMillis, 7L * 24 * 3600 * 1000)) * 1_000_000L;
    long pause = 1;
    while (true) {
      Claim claim = tryClaim(socket, instance, tag);
      if (claim != null) {
        return claim;
      }
      if (System.nanoTime() - deadline >= 0) {
        LOG.warn("waited {} ms for another migration of the same object to {}; copying it here too", waitMillis, socket);
        return Claim.NONE;
      }
      checkpoint.run();
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        checkpoint.run();
        throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.ALREADY_STOPPED,
            "interrupted while waiting for another migration of the same object to " + socket);
      }
      pause = Math.min(pause * 2, 50);
    }
  }

  /**
   * The claim on copying {@code tag} to {@code instance} if it is free now; null while another
   * holds it; {@link Claim#NONE} when the lock directory cannot be used (logged).
   */
  public static Claim tryClaim(String socket, long instance, String tag) {
    Path lock = Path.of(fileOf(socket, instance, tag) + LOCK);
    boolean madeDirectory = false;
    while (true) {
      int fd = Flock.openLocked(lock.toString(), Flock.O_RDWR | Flock.O_CREAT | Flock.O_CLOEXEC | Flock.O_NOFOLLOW, 0644);
      if (fd == Flock.HELD) {
        return null;
      }
      if (fd < 0) {
        int errno = Flock.errno();
        if (errno == Flock.ENOENT && !madeDirectory) { // the first claim on this instance: make the directory once
          madeDirectory = true;
          try {
            Files.createDirectories(lock.getParent());
            continue;
          } catch (IOException e) {
            LOG.warn("cannot claim the copy in {} ({}): concurrent migrations of this object may copy it twice",
                lock.getParent(), e.toString());
            return Claim.NONE;
          }
        }
        LOG.warn("cannot open {} (errno {}): concurrent migrations of this object may copy it twice", lock, errno);
        return Claim.NONE;
      }
      if (sameFile(fd, lock)) {
        return new Claim(fd);
      }
      Flock.get().close(fd); // a sweep removed the file we locked: lock the one there now
    }
  }

  /** Whether the descriptor {@code fd} is the file at {@code path} now (not one a sweep unlinked). */
  private static boolean sameFile(int fd, Path path) {
    try { // file keys are device and inode; stat of /proc/self/fd/N follows it to the open file
      Object mine = Files.readAttributes(Path.of("/proc/self/fd/" + fd), BasicFileAttributes.class).fileKey();
      return mine != null && mine.equals(Files.readAttributes(path, BasicFileAttributes.class).fileKey());
    } catch (IOException | UnsupportedOperationException e) {
      return Files.exists(path);
    }
  }

  /**
   * Removes up to {@code max} records whose copy is gone, and leftovers of killed writers: asks
   * {@code missing} (in chunks) which of the named copies no longer exist on instance
   * {@code instance}. Records of other instances behind the same socket are left alone. Returns the
   * number of records removed.
   */
  public static int sweep(String socket, long instance, int max, Function<List<Long>, java.util.Set<Long>> missing) {
    Path dir = dirOf(socket);
    List<Path> records = new ArrayList<>();
    List<Long> copies = new ArrayList<>();
    long now = System.currentTimeMillis();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = file.getFileName().toString();
        if (name.endsWith(TEMPORARY) || name.endsWith(LOCK)) {
          removeLeftover(file, now);
        } else if (records.size() < max) {
          OptionalLong copy = parse(file, instance, null);
          if (copy.isPresent()) {
            records.add(file);
            copies.add(copy.getAsLong());
          }
        }
      }
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException e) {
      LOG.warn("cannot list copy records in {}: {}", dir, e.toString());
      return 0;
    }
    int removed = 0;
    for (int from = 0; from < copies.size(); from += 1000) {
      List<Long> chunk = copies.subList(from, Math.min(copies.size(), from + 1000));
      java.util.Set<Long> gone = missing.apply(chunk);
      for (int k = 0; k < chunk.size(); k++) {
        if (gone.contains(chunk.get(k)) && removeUnclaimed(records.get(from + k), chunk.get(k), instance)) {
          removed++;
        }
      }
    }
    return removed;
  }

  /** Removes a record under its claim (a copy in progress rewrites it), if it still names {@code copy}. */
  private static boolean removeUnclaimed(Path record, long copy, long instance) {
    Path lock = Path.of(record + LOCK);
    int fd = Flock.openLocked(lock.toString(), Flock.O_RDWR | Flock.O_CREAT | Flock.O_CLOEXEC | Flock.O_NOFOLLOW, 0644);
    if (fd < 0) {
      return false; // claimed: a copy in progress rewrites the record
    }
    try {
      if (!parse(record, instance, null).equals(OptionalLong.of(copy))) {
        return false;
      }
      deleteQuietly(record);
      deleteQuietly(lock);
      return true;
    } finally {
      Flock.get().close(fd);
    }
  }

  /** A temporary file or a lock without its record, old enough to belong to no live writer or claim holder. */
  private static void removeLeftover(Path file, long now) {
    try {
      if (now - Files.getLastModifiedTime(file).toMillis() < LEFTOVER_MILLIS) {
        return;
      }
      String name = file.getFileName().toString();
      if (name.endsWith(TEMPORARY)) {
        deleteQuietly(file);
        return;
      }
      Path record = file.resolveSibling(name.substring(0, name.length() - LOCK.length()));
      if (!Files.exists(record)) {
        removeUnclaimedLock(file);
      }
    } catch (IOException ignored) {
      // gone already
    }
  }

  private static void removeUnclaimedLock(Path lock) {
    int fd = Flock.openLocked(lock.toString(), Flock.O_RDWR | Flock.O_CLOEXEC | Flock.O_NOFOLLOW, 0);
    if (fd < 0) {
      return; // claimed, or gone
    }
    try {
      deleteQuietly(lock); // a claimer that opened it before checks it still is the file there (sameFile)
    } finally {
      Flock.get().close(fd);
    }
  }

  private static void deleteQuietly(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // left for the next sweep
    }
  }

  /** A claim held: closing it lets the next process copying the same object to the same instance go on. */
  public static final class Claim implements AutoCloseable {
    /** No claim: copying unclaimed. */
    public static final Claim NONE = new Claim(-1);

    private int fd;

    private Claim(int fd) {
      this.fd = fd;
    }

    @Override
    public synchronized void close() {
      if (fd >= 0) {
        Flock.get().close(fd);
        fd = -1;
      }
    }
  }
}
