package io.v6d.migrate.engine;

import io.v6d.migrate.meta.ObjectIds;

/**
 * What a migration did.
 *
 * @param sourceId the object's id on the source
 * @param targetId the object's id on the target (equal to sourceId when it was there already)
 * @param blobsCopied blobs whose bytes moved
 * @param blobsReused blobs the target already held
 * @param bytesCopied bytes that moved
 * @param seconds wall time of the whole migration
 * @param transport the transport that moved the bytes
 * @param bytesOnWire what crossed the network for them: frame bytes, compressed where compressed
 *     (agent links), else {@code bytesCopied}
 * @param compression the compression negotiated on the agent link ("none" elsewhere)
 * @param tls whether the agent link spoke TLS
 */
public record MigrationResult(
    long sourceId,
    long targetId,
    int blobsCopied,
    int blobsReused,
    long bytesCopied,
    double seconds,
    String transport,
    long bytesOnWire,
    String compression,
    boolean tls) {

  /** A migration whose bytes did not travel over an agent link. */
  public MigrationResult(long sourceId, long targetId, int blobsCopied, int blobsReused, long bytesCopied,
      double seconds, String transport) {
    this(sourceId, targetId, blobsCopied, blobsReused, bytesCopied, seconds, transport, bytesCopied, "none", false);
  }

  /** The same with what an agent link reported. */
  public MigrationResult over(io.v6d.migrate.transport.BlobTransport.Wire wire) {
    return wire == null ? this : new MigrationResult(sourceId, targetId, blobsCopied, blobsReused, bytesCopied,
        seconds, transport, wire.bytes(), wire.compression(), wire.tls());
  }

  public boolean alreadyOnTarget() {
    return sourceId == targetId;
  }

  public String targetIdString() {
    return ObjectIds.format(targetId);
  }

  public String sourceIdString() {
    return ObjectIds.format(sourceId);
  }
}
