package io.v6d.migrate.tcp;

/** A peer asks for {@code length} bytes of blob {@code blobId} at {@code offset}. */
public record ReadRequest(long blobId, long offset, int length) {}
