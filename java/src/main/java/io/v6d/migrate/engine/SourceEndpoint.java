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

  long getName(String name);

  /** The transport for blobs this instance holds; owned by the endpoint. */
  BlobTransport transport();

  @Override
  void close();
}
