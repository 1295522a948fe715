package io.v6d.migrate.journal;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The liveness of one journal's owner: an exclusive flock on {@code <owner>.lock} in the lock
 * directory, held as long as the owner's process lives (the kernel drops it when the process dies,
 * whatever its pid namespace). A reclaimer that can take the lock knows the owner is dead. The file
 * also holds the owner's journal ({@link Journal}): appended to, through the locked descriptor.
 */
final class OwnerLock implements AutoCloseable {
  /** Lock files this process holds now: seeing only these, a reclaim would find no dead owner here. */
  private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final Path file;
  /** Bytes of the header the file began with ({@link #rewind} keeps them). */
  private final long headerBytes;
  private int fd;

  private OwnerLock(Path file, int fd, long headerBytes) {
    this.file = file;
    this.fd = fd;
    this.headerBytes = headerBytes;
  }

  /** The lock file of {@code owner} in {@code dir}. */
  static Path fileOf(Path dir, String owner) {
    return dir.resolve(owner + ".lock");
  }

  /** Creates and locks the lock file of a new owner, empty. */
  static OwnerLock create(Path dir, String owner) {
    return create(dir, owner, new byte[0]);
  }

  /**
   * Creates and locks the lock file of a new owner, beginning with {@code header}. The file is
   * locked and written under a temporary name and then renamed into place, so that a lock file is
   * never seen unlocked while its owner lives, nor without its header.
   */
  static OwnerLock create(Path dir, String owner, byte[] header) {
    Flock libc = Flock.get();
    Path temporary = dir.resolve("." + owner + ".new");
    Path file = fileOf(dir, owner);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw cannotLock(dir, e.toString());
    }
    int fd = libc.open(temporary.toString(), Flock.O_RDWR | Flock.O_CREAT | Flock.O_EXCL | Flock.O_CLOEXEC
        | Flock.O_NOFOLLOW, 0644);
    if (fd < 0) {
      throw cannotLock(dir, "open " + temporary + " failed, errno " + Flock.errno());
    }
    try {
      if (libc.flock(fd, Flock.LOCK_EX | Flock.LOCK_NB) != 0) {
        throw cannotLock(dir, "flock " + temporary + " failed, errno " + Flock.errno());
      }
      HELD.add(file);
      writeFully(fd, header, temporary);
      Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
      return new OwnerLock(file, fd, header.length);
    } catch (IOException | RuntimeException e) {
      HELD.remove(file);
      libc.close(fd);
      deleteQuietly(temporary);
      throw e instanceof MigrateException m ? m : cannotLock(dir, e.toString());
    }
  }

  /**
   * Takes the lock of an owner found in a journal: the taken lock when the owner is dead, null when
   * it lives (or another reclaimer holds it) or when there is no such file here. A missing file
   * says nothing of the owner (it may lock in a directory this process does not see), so the
   * caller must then leave the owner's journal alone.
   */
  static OwnerLock takeIfDead(Path file) {
    int fd = Flock.openLocked(file.toString(), Flock.O_CLOEXEC | Flock.O_NOFOLLOW, 0);  // read-only: flock needs no write
    return fd < 0 ? null : new OwnerLock(file, fd, 0);
  }

  /** Whether {@code dir} has a lock file this process does not hold (a dead owner's, or another process's). */
  static boolean othersIn(Path dir) {
    try (java.util.stream.Stream<Path> files = Files.list(dir)) {
      return files.anyMatch(f -> f.getFileName().toString().endsWith(".lock") && !HELD.contains(f));
    } catch (java.nio.file.NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      return true; // cannot tell: let the reclaim look
    }
  }

  /** Whether this process holds the lock of {@code file} (so that it is no dead owner's). */
  static boolean heldHere(Path file) {
    return HELD.contains(file);
  }

  Path file() {
    return file;
  }

  /**
   * Appends {@code bytes} to the file. No fsync: what the journal lists lives in vineyardd's memory,
   * which a crash of the host loses too; another process reads the bytes as soon as this returns.
   */
  void append(byte[] bytes) {
    writeFully(heldFd(), bytes, file);
  }

  private int heldFd() {
    if (fd < 0) {
      throw new MigrateException(ErrorCode.ASSERTION_FAILED, "the lock " + file + " is no longer held");
    }
    return fd;
  }

  private static void writeFully(int fd, byte[] bytes, Path file) {
    byte[] rest = bytes;
    while (rest.length > 0) {
      long written = Flock.get().write(fd, rest, rest.length);
      if (written < 0) {
        int errno = Flock.errno();
        if (errno == Flock.EINTR) {
          continue;
        }
        throw new MigrateException(ErrorCode.IO_ERROR, "cannot write the migration journal " + file + ", errno " + errno);
      }
      rest = java.util.Arrays.copyOfRange(rest, (int) written, rest.length);
    }
  }

  /**
   * Removes the lock file, then unlocks: only once the owner's journal is gone (a reclaimer that
   * opened the file before it was removed takes the lock next, finds no journal, and stops).
   */
  @Override
  public void close() {
    if (fd < 0) {
      return;
    }
    deleteQuietly(file);
    Flock.get().close(fd);
    fd = -1;
    HELD.remove(file);
  }

  /**
   * Empties the journal the file holds back to its header, still holding the lock, so that the
   * owner can journal another migration in it; throws when it cannot (the entries then stay, for a
   * reclaim to finish once the lock is released). Truncated before the offset moves back: a reader
   * never sees old entries after the header as new ones.
   */
  void rewind() {
    int held = heldFd();
    Flock libc = Flock.get();
    if (libc.ftruncate(held, headerBytes) != 0 || libc.lseek(held, headerBytes, Flock.SEEK_SET) != headerBytes) {
      throw new MigrateException(ErrorCode.IO_ERROR, "cannot empty the migration journal " + file + ", errno "
          + Flock.errno());
    }
  }

  /** Whether the file is still where it was created (an operator may have removed the directory). */
  boolean fileInPlace() {
    return Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }

  /** Unlocks and leaves the file, for a journal that could not be cleared: a reclaimer finishes it. */
  void unlockKeepingFile() {
    if (fd >= 0) {
      Flock.get().close(fd);
      fd = -1;
      HELD.remove(file);
    }
  }

  private static void deleteQuietly(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // a leftover file of a dead owner is removed by the next reclaim
    }
  }

  private static MigrateException cannotLock(Path dir, String why) {
    return new MigrateException(ErrorCode.IO_ERROR, "cannot create a migration lock in " + dir + " (" + why
        + "): the directory must be writable by whoever migrates into this vineyardd; set "
        + LockDirs.ENV + " to choose another one, shared by every process that migrates into it");
  }
}
