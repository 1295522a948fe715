package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import java.util.List;

/**
 * What a migration would do, without doing it ({@code vineyard-migrate plan}).
 *
 * @param objectId the object's id on the source
 * @param alreadyOnTarget the object is on the target: nothing would move
 * @param blobs every blob of the object, with what would happen to it
 * @param bytesToMove bytes that would cross from the source
 * @param compression the compression the agent link negotiated ("none" when no agent link is used)
 * @param tls whether the agent link speaks TLS
 */
public record MigrationPlan(long objectId, boolean alreadyOnTarget, List<Blob> blobs, long bytesToMove,
    String compression, boolean tls) {
  /** A plan without an agent link. */
  public MigrationPlan(long objectId, boolean alreadyOnTarget, List<Blob> blobs, long bytesToMove) {
    this(objectId, alreadyOnTarget, blobs, bytesToMove, "none", false);
  }

  /**
   * One blob.
   *
   * @param id its id on the source
   * @param size its size in bytes (-1 when it stays where it is and was not asked)
   * @param instanceId the instance that holds it
   * @param action "copy" or "reuse" (the target has it)
   * @param transport how it would travel ("local", "tcp", "rpc", "tcp-push"), or "none"
   */
  public record Blob(long id, long size, long instanceId, String action, String transport) {}

  /** The plan as JSON: what {@code plan --json} prints and the Python face returns. */
  public ObjectNode toJson() {
    ObjectNode out = FrameCodec.mapper().createObjectNode()
        .put("object_id", ObjectIds.format(objectId))
        .put("already_on_target", alreadyOnTarget)
        .put("bytes_to_move", bytesToMove)
        .put("compression", compression)
        .put("tls", tls);
    ArrayNode names = out.putArray("transports");
    transports().forEach(names::add);
    ArrayNode list = out.putArray("blobs");
    for (Blob blob : blobs) {
      ObjectNode b = list.addObject()
          .put("id", ObjectIds.format(blob.id()))
          .put("instance_id", blob.instanceId())
          .put("action", blob.action())
          .put("transport", blob.transport());
      if (blob.size() >= 0) {
        b.put("size", blob.size());
      } else {
        b.putNull("size");
      }
    }
    return out;
  }

  /** The transports that would be used, once each, in order. */
  public List<String> transports() {
    return blobs.stream().map(Blob::transport).filter(t -> !t.equals("none")).distinct().toList();
  }
}
