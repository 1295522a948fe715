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
 */
public record MigrationResult(
    long sourceId,
    long targetId,
    int blobsCopied,
    int blobsReused,
    long bytesCopied,
    double seconds,
    String transport) {

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
