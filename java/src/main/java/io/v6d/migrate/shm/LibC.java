package io.v6d.migrate.shm;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;

/** The few libc calls Java has no API for: mapping a raw file descriptor received from vineyardd. */
public interface LibC {
  int PROT_READ = 0x1;
  int PROT_WRITE = 0x2;
  int MAP_SHARED = 0x01;
  long MAP_FAILED = -1L;

  Pointer mmap(Pointer addr, @size_t long length, int prot, int flags, int fd, @off_t long offset);

  int munmap(Pointer addr, @size_t long length);

  int close(int fd);

  int madvise(Pointer addr, @size_t long length, int advice);

  /** Fault pages in for writing / reading ahead of use, in one call (Linux 5.14+). */
  int MADV_POPULATE_READ = 22;
  int MADV_POPULATE_WRITE = 23;

  /** Loaded once, on first use. */
  final class Holder {
    static final LibC INSTANCE = LibraryLoader.create(LibC.class).load("c");

    private Holder() {}
  }

  static LibC get() {
    return Holder.INSTANCE;
  }
}
