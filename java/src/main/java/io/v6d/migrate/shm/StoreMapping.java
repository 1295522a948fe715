package io.v6d.migrate.shm;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import jnr.ffi.Pointer;
import org.slf4j.LoggerFactory;

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
  private boolean closed; // guarded by this
  private FileChannel file; // opened on first use, guarded by this
  private boolean fileOpened;

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

  /**
   * The store as a file of its own (the descriptor reopened through {@code /proc/self/fd}), for the
   * kernel to send from ({@code sendfile}) without the bytes passing through this process; null when
   * it cannot be opened. Closed with the mapping.
   */
  public synchronized FileChannel file() {
    if (!fileOpened && !closed) {
      fileOpened = true;
      try {
        file = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ);
      } catch (IOException | RuntimeException e) {
        LoggerFactory.getLogger(StoreMapping.class).debug("cannot reopen store fd {} as a file: {}", fd, e.toString());
      }
    }
    return file;
  }

  /** Where the byte at {@code address} (inside this mapping) lies in the store file. */
  public long fileOffset(long address) {
    return address - base.address();
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      if (file != null) {
        try {
          file.close();
        } catch (IOException e) {
          // nothing to do: the mapping and the descriptor go next either way
        }
      }
      LibC libc = LibC.get();
      libc.munmap(base, size);
      libc.close(fd);
    }
  }
}
