package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.SocketIdentity;
import io.v6d.migrate.meta.ObjectIds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A journal as its owner's lock file holds it: a header line naming the owner's host and pid and
 * the vineyardd instance it migrates into, then one JSON line per entry ({@link JournalEntry}). A
 * vineyardd that restarted since lost every blob the journal lists, and may have given their ids to
 * new blobs: the header names the instance by its id and by its socket file (which a restarted
 * vineyardd creates anew), so that a reclaim undoes only what the running instance holds.
 */
record JournalFile(String host, long pid, long instanceId, String store, List<JournalEntry> entries) {
  private static final int VERSION = 1;
  /** Far above what a migration writes (about 20 bytes per blob or object). */
  private static final long MAX_BYTES = 256L << 20;

  /**
   * The header line of a new owner's journal into the instance {@code instanceId} whose socket's
   * identity is {@code store} ({@link SocketIdentity}).
   */
  static byte[] header(long instanceId, String store) {
    ObjectNode header = FrameCodec.mapper().createObjectNode()
        .put("journal", VERSION)
        .put("host", Journal.HOST)
        .put("pid", ProcessHandle.current().pid())
        .put("instance_id", instanceId)
        .put("store", store);
    return line(header);
  }

  /** One entry's line. */
  static byte[] entry(List<Long> blobs, long bytes, List<Long> objects, String name, long root) {
    ObjectNode entry = FrameCodec.mapper().createObjectNode().put("bytes", bytes);
    blobs.forEach(id -> entry.withArray("blobs").add(ObjectIds.format(id)));
    objects.forEach(id -> entry.withArray("objects").add(ObjectIds.format(id)));
    if (name != null) {
      entry.put("migrate_name", name).put("migrate_root", ObjectIds.format(root));
    }
    return line(entry);
  }

  /** The line naming the global object whose persist commits the journal ({@link PreparedCommit}). */
  static byte[] prepared(long global, List<Long> members, long decideAfterMillis) {
    ObjectNode entry = FrameCodec.mapper().createObjectNode().put("bytes", 0)
        .put("prepared_global", ObjectIds.format(global)).put("decide_after_ms", decideAfterMillis);
    members.forEach(id -> entry.withArray("prepared_members").add(ObjectIds.format(id)));
    return line(entry);
  }

  private static byte[] line(ObjectNode node) {
    return (node.toString() + "\n").getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The journal in {@code file} of {@code owner}; empty when the file has no header (an owner of an
   * older version, whose journal is in vineyardd: {@link JournalEntry#list}). A line cut short by
   * a kill, or otherwise unreadable, ends the journal.
   */
  static Optional<JournalFile> read(Path file, String owner) throws IOException {
    if (Files.size(file) > MAX_BYTES) {
      throw new io.v6d.migrate.MigrateException(io.v6d.migrate.ErrorCode.IO_ERROR, "the migration journal " + file
          + " has " + Files.size(file) + " bytes, more than any migration writes (" + MAX_BYTES + "): left alone");
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    JsonNode header = lines.isEmpty() ? null : parse(lines.get(0));
    if (header == null || header.path("journal").asInt(0) != VERSION) {
      return Optional.empty();
    }
    List<JournalEntry> entries = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      JsonNode tree = parse(line);
      if (tree == null) {
        break;
      }
      entries.add(JournalEntry.of(0, owner, file.toString(), header, tree));
    }
    return Optional.of(new JournalFile(header.path("host").asText(""), header.path("pid").asLong(-1),
        header.path("instance_id").asLong(-1), header.path("store").asText(""), entries));
  }

  /**
   * Whether what this journal lists may still be on the instance now running as {@code
   * nowInstanceId}, its socket's identity {@code now} ({@link SocketIdentity}).
   */
  boolean sameInstance(long nowInstanceId, String now) {
    return instanceId == nowInstanceId && (store.equals(now) || store.isEmpty() || now.isEmpty());
  }

  private static JsonNode parse(String line) {
    try {
      JsonNode tree = FrameCodec.mapper().readTree(line);
      return tree != null && tree.isObject() ? tree : null;
    } catch (IOException e) {
      return null;
    }
  }
}
