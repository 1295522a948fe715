package io.v6d.migrate.ipc;

import io.v6d.migrate.shm.StoreMapping;

/**
 * A blob's bytes as mapped into this process: {@code size} bytes at {@code address} (0 for an
 * empty blob), inside {@code store} (null when not known). Valid while the {@link VineyardClient}
 * that mapped it is open.
 */
public record Blob(long id, long size, long address, StoreMapping store) {
  public Blob(long id, long size, long address) {
    this(id, size, address, null);
  }
}
