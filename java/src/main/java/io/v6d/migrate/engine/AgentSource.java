package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.tcp.AgentLink;
import io.v6d.migrate.tcp.TcpOptions;
import io.v6d.migrate.tcp.TcpPullTransport;
import io.v6d.migrate.transport.BlobTransport;

/** A source reached through the agent beside it: metadata by agent requests, blobs pulled over TCP. */
final class AgentSource implements SourceEndpoint {
  private final TcpPullTransport transport;
  private final AgentLink connection;
  private final JsonNode info;

  /** Through the leased link, which closing gives back. */
  AgentSource(AgentLink.Lease lease, TcpOptions options) {
    this.transport = new TcpPullTransport(lease, options);
    this.connection = lease.link();
    try {
      this.info = connection.info();
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  @Override
  public long instanceId() {
    return info.path("instance_id").asLong();
  }

  @Override
  public String ipcSocket() {
    return info.path("ipc_socket").asText();
  }

  @Override
  public String rpcEndpoint() {
    return info.path("rpc_endpoint").asText();
  }

  @Override
  public JsonNode clusterMeta() {
    return connection.cluster();
  }

  @Override
  public ObjectNode getData(long id, boolean syncRemote) {
    ObjectNode request = FrameCodec.mapper().createObjectNode()
        .put("id", ObjectIds.format(id)).put("sync_remote", syncRemote);
    return (ObjectNode) connection.call("meta", request).path("tree");
  }

  /** One "meta" request that maps this instance's blobs of the object too ({@link TcpPullTransport#premapped}). */
  @Override
  public ObjectNode treeToCopy(long id, boolean syncRemote) {
    ObjectNode request = FrameCodec.mapper().createObjectNode()
        .put("id", ObjectIds.format(id)).put("sync_remote", syncRemote).put("map", true).put("leads", true);
    JsonNode reply = connection.call("meta", request);
    transport.premapped(reply.path("sizes")); // an agent of an older release answers none: "map" asks
    return (ObjectNode) reply.path("tree");
  }

  /** One "metas" request; an agent of an older release, which does not know it, is asked per object. */
  @Override
  public java.util.Map<Long, JsonNode> getDatas(java.util.Collection<Long> ids, boolean syncRemote) {
    ObjectNode request = FrameCodec.mapper().createObjectNode().put("sync_remote", syncRemote);
    ids.forEach(id -> request.withArray("ids").add(ObjectIds.format(id)));
    JsonNode reply;
    try {
      reply = connection.call("metas", request);
    } catch (io.v6d.migrate.MigrateException e) {
      if (e.code() == io.v6d.migrate.ErrorCode.INVALID && String.valueOf(e.getMessage()).contains("unknown request")) {
        return SourceEndpoint.super.getDatas(ids, syncRemote);
      }
      throw e;
    }
    java.util.Map<Long, JsonNode> trees = new java.util.HashMap<>();
    reply.path("trees").fields().forEachRemaining(e -> trees.put(ObjectIds.parse(e.getKey()), e.getValue()));
    return trees;
  }

  @Override
  public long getName(String name) {
    ObjectNode request = FrameCodec.mapper().createObjectNode().put("name", name);
    return ObjectIds.parse(connection.call("name", request).path("id").asText());
  }

  @Override
  public BlobTransport transport() {
    return transport;
  }

  @Override
  public void close() {
    transport.close();
  }
}
