package io.v6d.migrate.shm;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import jnr.ffi.Pointer;

/**
 * One of vineyardd's shared-memory store files, mapped into this process.
 *
 * <p>vineyardd passes the store's file descriptor once per connection; blobs are then addressed as
 * {@code base + data_offset}. The mapping owns the received descriptor and releases both on close.
 */
public final class StoreMapping implements AutoCloseable {
  private final int fd;
  private final long size;
  private final Pointer base;
  private boolean closed;

  private StoreMapping(int fd, long size, Pointer base) {
    this.fd = fd;
    this.size = size;
    this.base = base;
  }

  /** Maps {@code size} bytes of {@code fd} read-write and shared; takes ownership of the fd. */
  public static StoreMapping map(int fd, long size) {
    LibC libc = LibC.get();
    Pointer base = libc.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
    if (base == null || base.address() == LibC.MAP_FAILED) {
      libc.close(fd);
      throw new MigrateException(
          ErrorCode.IO_ERROR, "cannot map vineyard's shared memory (fd " + fd + ", " + size + " bytes)");
    }
    return new StoreMapping(fd, size, base);
  }

  public long size() {
    return size;
  }

  /** The address of {@code length} bytes at {@code offset}, checked to lie inside the mapping. */
  public long address(long offset, long length) {
    if (!Ranges.inside(offset, length, size)) {
      throw new MigrateException(
          ErrorCode.INVALID,
          "blob at offset " + offset + " (+" + length + ") lies outside the mapped store of " + size + " bytes");
    }
    return base.address() + offset;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      LibC libc = LibC.get();
      libc.munmap(base, size);
      libc.close(fd);
    }
  }
}
