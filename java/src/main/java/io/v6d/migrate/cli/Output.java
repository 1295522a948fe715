package io.v6d.migrate.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.engine.MigrationResult;
import io.v6d.migrate.ipc.FrameCodec;
import java.io.PrintStream;

/** Printing results: one line a human reads, or one JSON document a program reads ({@code --json}). */
final class Output {
  private Output() {}

  static ObjectNode json(MigrationResult r) {
    return FrameCodec.mapper().createObjectNode()
        .put("object_id", r.targetIdString())
        .put("source_id", r.sourceIdString())
        .put("already_on_target", r.alreadyOnTarget())
        .put("blobs_copied", r.blobsCopied())
        .put("blobs_reused", r.blobsReused())
        .put("bytes", r.bytesCopied())
        .put("seconds", r.seconds())
        .put("transport", r.transport());
  }

  static void print(PrintStream out, com.fasterxml.jackson.databind.JsonNode json) {
    try {
      out.println(FrameCodec.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
