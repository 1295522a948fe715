package io.v6d.migrate.ipc;

/**
 * A blob's bytes as mapped into this process: {@code size} bytes at {@code address} (0 for an
 * empty blob). Valid while the {@link VineyardClient} that mapped it is open.
 */
public record Blob(long id, long size, long address) {}
