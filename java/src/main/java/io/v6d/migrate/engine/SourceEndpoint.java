package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.transport.BlobTransport;

/**
 * A source named explicitly by the caller: a vineyardd IPC socket, a vineyardd RPC port, or an
 * agent. It answers for metadata the same way whatever it is, and reads its own blobs through the
 * transport that fits it.
 */
interface SourceEndpoint extends AutoCloseable {
  long instanceId();

  String ipcSocket();

  String rpcEndpoint();

  /** Its cluster's instances by {@code i<id>}; just itself for an independent instance. */
  JsonNode clusterMeta();

  ObjectNode getData(long id, boolean syncRemote);

  /**
   * {@link #getData} of an object about to be copied from this endpoint: an agent maps the blobs
   * of it that its instance holds in the same round trip (its transport then asks no "map").
   */
  default ObjectNode treeToCopy(long id, boolean syncRemote) {
    return getData(id, syncRemote);
  }

  /**
   * The trees of many objects, by id; ids the instance does not know are left out. One request
   * where the endpoint can (a batch asks once per source instance), else one per object.
   */
  default java.util.Map<Long, JsonNode> getDatas(java.util.Collection<Long> ids, boolean syncRemote) {
    java.util.Map<Long, JsonNode> trees = new java.util.HashMap<>();
    for (long id : ids) {
      try {
        trees.put(id, getData(id, syncRemote));
      } catch (io.v6d.migrate.MigrateException e) {
        if (e.code() != io.v6d.migrate.ErrorCode.OBJECT_NOT_EXISTS) {
          throw e;
        }
      }
    }
    return trees;
  }

  long getName(String name);

  /** The transport for blobs this instance holds; owned by the endpoint. */
  BlobTransport transport();

  @Override
  void close();
}
