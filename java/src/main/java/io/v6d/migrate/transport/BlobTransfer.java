package io.v6d.migrate.transport;

import io.v6d.migrate.ipc.Blob;

/** One blob to move: its id on the source, and the unsealed blob on the target to fill. */
public record BlobTransfer(long sourceId, Blob target) {}
