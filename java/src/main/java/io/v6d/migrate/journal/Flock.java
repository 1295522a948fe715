package io.v6d.migrate.journal;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * flock(2) through libc, and the open, write and close of the lock file (which holds the journal).
 * Java's own {@link java.nio.channels.FileLock} takes POSIX record locks,
 * which the JVM drops when any other descriptor of the same file is closed in the process and
 * which do not conflict within one process; flock locks belong to the open file description, so a
 * reclaimer in the same JVM as a live migration still sees that migration's lock held. Public only
 * because jnr's generated implementation must see it; nothing outside this package uses it.
 */
public interface Flock {
  int O_RDWR = 02;
  int O_CREAT = 0100;
  int O_EXCL = 0200;
  int O_NOFOLLOW = 0400000;
  int O_CLOEXEC = 02000000;
  int LOCK_EX = 2;
  int LOCK_NB = 4;
  int ENOENT = 2;
  int EINTR = 4;
  int EWOULDBLOCK = 11;
  int SEEK_SET = 0;

  int open(String path, int flags, int mode);

  int flock(int fd, int operation);

  int close(int fd);

  /** write(2): the count written, or -1 (see {@link #errno()}). */
  long write(int fd, byte[] bytes, long count);

  /** ftruncate(2): 0, or -1. */
  int ftruncate(int fd, long length);

  /** lseek(2): the new offset, or -1. */
  long lseek(int fd, long offset, int whence);

  /** Loaded once, on first use. */
  final class Holder {
    static final Flock INSTANCE = LibraryLoader.create(Flock.class).load("c");

    private Holder() {}
  }

  static Flock get() {
    return Holder.INSTANCE;
  }

  /** What {@link #openLocked} returns when the file opened but another descriptor holds its flock. */
  int HELD = -2;

  /**
   * Opens {@code path} with {@code flags} and takes its exclusive flock without waiting: the locked
   * descriptor; {@link #HELD} when another holds the lock (the file is closed again); -1 when it
   * cannot be opened ({@link #errno()} says why).
   */
  static int openLocked(String path, int flags, int mode) {
    Flock libc = get();
    int fd = libc.open(path, flags, mode);
    if (fd < 0) {
      return -1;
    }
    if (libc.flock(fd, LOCK_EX | LOCK_NB) != 0) {
      libc.close(fd);
      return HELD;
    }
    return fd;
  }

  static int errno() {
    return Runtime.getRuntime(get()).getLastError();
  }
}
