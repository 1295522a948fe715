package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.shm.LibC;
import io.v6d.migrate.shm.StoreMapping;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The store files one connection has been passed, mapped, and the blobs vineyardd describes in
 * them. A store is mapped the first time its descriptor arrives and stays mapped until
 * {@link #close()}. Not thread-safe (its connection's).
 */
final class StoreMappings implements AutoCloseable {
  private final String ipcSocket;
  /** Mappings by the store fd number as vineyardd names it (not our local fd). */
  private final Map<Integer, StoreMapping> mappings = new HashMap<>();

  StoreMappings(String ipcSocket) {
    this.ipcSocket = ipcSocket;
  }

  /**
   * Receives the descriptors vineyardd announced in a reply (in the order it lists them, one message
   * each) and maps each store with the map size its payloads give.
   */
  void receive(FramedConnection connection, JsonNode fds, JsonNode payloads) {
    List<Integer> announced = new ArrayList<>();
    fds.forEach(fd -> announced.add(fd.asInt()));
    for (int storeFd : announced) {
      long mapSize = -1;
      for (JsonNode payload : payloads) {
        if (payload.path("store_fd").asInt() == storeFd) {
          mapSize = Math.max(mapSize, payload.path("map_size").longValue());
        }
      }
      int localFd = connection.receiveFd();
      if (mapSize <= 0) {
        LibC.get().close(localFd); // announced but not sized by any payload: nothing to map
        continue;
      }
      StoreMapping previous = mappings.put(storeFd, StoreMapping.map(localFd, mapSize));
      if (previous != null) {
        previous.close();
      }
    }
  }

  /** The blob a create_buffer reply describes (receiving its store if passed), checked to be {@code size} bytes. */
  Blob created(FramedConnection connection, JsonNode reply, long size) {
    JsonNode payload = reply.path("created");
    int fd = reply.path("fd").asInt(-1);
    if (fd != -1) {
      receive(connection, FrameCodec.mapper().createArrayNode().add(fd), FrameCodec.mapper().createArrayNode().add(payload));
    }
    Blob blob = blob(payload);
    if (blob.size() != size) {
      throw new MigrateException(
          ErrorCode.ASSERTION_FAILED, "asked for a blob of " + size + " bytes, vineyardd made " + blob.size());
    }
    return blob;
  }

  /** The blob a payload describes, in a store already mapped; its size checked. */
  Blob blob(JsonNode payload) {
    long id = payload.path("object_id").longValue();
    long size = Ranges.requireSize(payload.path("data_size").longValue(), ErrorCode.IO_ERROR,
        () -> "vineyardd at " + ipcSocket + " says blob " + ObjectIds.format(id));
    if (size == 0) {
      return new Blob(id, 0, 0);
    }
    StoreMapping store = mappings.get(payload.path("store_fd").asInt());
    if (store == null) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, "vineyardd at " + ipcSocket + " named a store that was never passed to this client");
    }
    return new Blob(id, size, store.address(payload.path("data_offset").longValue(), size));
  }

  @Override
  public void close() {
    mappings.values().forEach(StoreMapping::close);
    mappings.clear();
  }
}
