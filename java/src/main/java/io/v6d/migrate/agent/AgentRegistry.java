package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.tcp.PublishedAgent;
import java.util.Optional;

/**
 * How clients find the agent of an instance: the agent publishes its endpoint in the cluster's
 * metadata, as a small persisted object named {@code vineyard-migrate-agent-i<instance id>}
 * (names are cluster-wide in an etcd cluster), and removes it when it stops.
 */
public final class AgentRegistry {
  public static final String TYPENAME = "vineyard::migrate::AgentEndpoint";

  private AgentRegistry() {}

  public static String nameFor(long instanceId) {
    return "vineyard-migrate-agent-i" + instanceId;
  }

  /** Publishes {@code endpoint} for {@code client}'s instance; returns the object to unpublish. */
  static long publish(VineyardClient client, AgentEndpoint endpoint, boolean tls) {
    ObjectNode meta = FrameCodec.mapper().createObjectNode()
        .put("typename", TYPENAME)
        .put("host", endpoint.host())
        .put("port", endpoint.port())
        .put("tls", tls)
        .put("agent_instance_id", client.instanceId())
        .put("nbytes", 0)
        .put("instance_id", client.instanceId())
        .put("transient", true);
    long id = client.createData(meta).id();
    client.persist(id);
    client.putName(id, nameFor(client.instanceId()));
    return id;
  }

  static void unpublish(VineyardClient client, long id) {
    try {
      client.dropName(nameFor(client.instanceId()));
    } finally {
      client.delete(java.util.List.of(id), true, false);
    }
  }

  /** Whether the agent published as {@code meta} speaks TLS (its {@code tls} field; absent: plaintext). */
  public static boolean speaksTls(JsonNode meta) {
    return meta.path("tls").asBoolean(false);
  }

  /** The agent published for {@code instanceId}, as seen through {@code client}'s cluster. */
  public static Optional<AgentEndpoint> lookup(VineyardClient client, long instanceId) {
    return lookup(client::getName, client::getData, instanceId);
  }

  /** The same through any view of the cluster's names and metadata. */
  public static Optional<AgentEndpoint> lookup(
      java.util.function.ToLongFunction<String> getName,
      java.util.function.BiFunction<Long, Boolean, ? extends JsonNode> getData,
      long instanceId) {
    return lookupPublished(getName, getData, instanceId).map(PublishedAgent::endpoint);
  }

  /** The same with what it published about TLS. */
  public static Optional<PublishedAgent> lookupPublished(
      java.util.function.ToLongFunction<String> getName,
      java.util.function.BiFunction<Long, Boolean, ? extends JsonNode> getData,
      long instanceId) {
    long id;
    try {
      id = getName.applyAsLong(nameFor(instanceId));
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS || e.code() == ErrorCode.META_TREE_NAME_NOT_EXISTS) {
        return Optional.empty();
      }
      throw e;
    }
    JsonNode meta = getData.apply(id, true);
    if (!TYPENAME.equals(meta.path("typename").asText())) {
      return Optional.empty();
    }
    return Optional.of(new PublishedAgent(new AgentEndpoint(meta.path("host").asText(), meta.path("port").asInt()),
        speaksTls(meta)));
  }
}
