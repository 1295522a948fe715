package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.CreatedObject;
import io.v6d.migrate.ipc.IpcClient;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything a migration creates on the target goes through here, and is recorded, so that a
 * migration that fails leaves nothing behind: {@link #close()} without {@link #commit()} deletes the
 * metadata it created and frees the blobs it allocated.
 */
final class TargetWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TargetWriter.class);

  private final IpcClient target;
  /** Allocated blobs, in order, with whether each has been sealed. */
  private final Map<Long, Boolean> blobs = new LinkedHashMap<>();
  private final List<Long> objects = new ArrayList<>();
  private boolean committed;

  TargetWriter(IpcClient target) {
    this.target = target;
  }

  Blob createBlob(long size) {
    Blob blob = target.createBuffer(size);
    blobs.put(blob.id(), false);
    return blob;
  }

  void sealAll() {
    for (Map.Entry<Long, Boolean> blob : blobs.entrySet()) {
      if (!blob.getValue()) {
        target.seal(blob.getKey());
        blob.setValue(true);
      }
    }
  }

  CreatedObject createObject(ObjectNode content) {
    CreatedObject created = target.createData(content);
    objects.add(created.id());
    return created;
  }

  void commit() {
    committed = true;
  }

  /** Undoes what was created unless committed; reports (never throws) what could not be undone. */
  @Override
  public void close() {
    if (committed) {
      return;
    }
    List<String> failures = new ArrayList<>();
    for (int i = objects.size() - 1; i >= 0; i--) {
      long id = objects.get(i);
      failures.addAll(attempt("object " + ObjectIds.format(id), () -> target.delete(List.of(id), true, false)));
    }
    for (Map.Entry<Long, Boolean> blob : blobs.entrySet()) {
      long id = blob.getKey();
      boolean sealed = blob.getValue();
      failures.addAll(attempt("blob " + ObjectIds.format(id),
          () -> {
            if (sealed) {
              target.delete(List.of(id), true, false);
            } else {
              target.dropBuffer(id);
            }
          }));
    }
    if (!failures.isEmpty()) {
      LOG.warn("rolling back a failed migration left {} on {}", failures, target.ipcSocket());
    }
  }

  private static List<String> attempt(String what, Runnable undo) {
    try {
      undo.run();
      return List.of();
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS) {
        return List.of();
      }
      return List.of(what + " (" + e.getMessage() + ")");
    }
  }
}
