package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import java.util.List;

/**
 * What one reclaim undid for one dead owner: its allocations ({@code blobs}, {@code bytes} in all),
 * the metadata objects it had created and the name it had given, if any.
 */
public record Reclaimed(String owner, String host, long pid, List<Long> blobs, long bytes, List<Long> objects,
    List<String> names) {

  public ObjectNode toJson() {
    ObjectNode json = FrameCodec.mapper().createObjectNode()
        .put("owner", owner)
        .put("host", host)
        .put("pid", pid)
        .put("bytes", bytes);
    blobs.forEach(id -> json.withArray("blobs").add(ObjectIds.format(id)));
    json.withArray("blobs");
    objects.forEach(id -> json.withArray("objects").add(ObjectIds.format(id)));
    json.withArray("objects");
    names.forEach(name -> json.withArray("names").add(name));
    json.withArray("names");
    return json;
  }
}
