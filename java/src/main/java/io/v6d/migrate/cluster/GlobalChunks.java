package io.v6d.migrate.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.agent.AgentRegistry;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.rebalance.RebalancePlanner.Chunk;
import io.v6d.migrate.tcp.AgentEndpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A global object as the rebalance sees it: its tree, its chunks (direct members, in the tree's
 * order) with their sizes and holders, and the cluster's instances with how each can be reached
 * from here as a target (its IPC socket when the file is here, else its published agent).
 */
final class GlobalChunks {
  /** A direct member of the global object: its field name in the tree and the chunk. */
  record Member(String field, Chunk chunk) {}

  /** An instance of the cluster: its id, IPC socket (as its cluster entry says) and agent. */
  record Instance(long id, String ipcSocket, Optional<AgentEndpoint> agent) {
    boolean socketHere() {
      return ipcSocket != null && !ipcSocket.isEmpty() && Files.exists(Path.of(ipcSocket));
    }

    /** The target the engine is given for this instance. */
    String targetEndpoint() {
      if (socketHere()) {
        return ipcSocket;
      }
      return agent.map(AgentEndpoint::toString).orElseThrow(() -> new MigrateException(ErrorCode.INVALID,
          "instance " + id + " is not reachable from here: its IPC socket " + ipcSocket
              + " is not on this host and it has no agent"));
    }
  }

  final long id;
  final ObjectNode tree;
  final List<Member> members = new ArrayList<>();
  final Map<Long, Instance> cluster = new LinkedHashMap<>();

  GlobalChunks(VineyardClient view, String object) {
    this.id = ObjectIds.looksLikeId(object) ? ObjectIds.parse(object) : view.getName(object);
    this.tree = view.getData(id, true);
    if (!MetaTree.isGlobal(tree)) {
      throw new MigrateException(ErrorCode.INVALID, ObjectIds.format(id) + " is not a global object");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = tree.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      JsonNode member = field.getValue();
      if (MetaTree.isMember(member)) {
        members.add(new Member(field.getKey(), new Chunk(MetaTree.id(member), 0, MetaTree.instanceId(member))));
      }
    }
    JsonNode meta = view.clusterMeta();
    for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      if (!entry.getKey().startsWith("i")) {
        continue;
      }
      long instance;
      try {
        instance = Long.parseLong(entry.getKey().substring(1));
      } catch (NumberFormatException e) {
        continue;
      }
      cluster.put(instance, new Instance(instance, entry.getValue().path("ipc_socket").asText(""),
          AgentRegistry.lookup(view, instance)));
    }
  }

  /** The chunks with their sizes, asked of their holders once (see {@link BlobSizes}). */
  List<Chunk> chunks(io.v6d.migrate.engine.MigrationRequest request) {
    if (sized == null) {
      Map<Long, Long> sizes = BlobSizes.of(this, request, request.timeoutMillis());
      sized = members.stream().map(m -> new Chunk(m.chunk().id(),
          io.v6d.migrate.rebalance.ChunkBytes.of(tree.get(m.field()), sizes), m.chunk().instance())).toList();
    }
    return sized;
  }

  private List<Chunk> sized;

  /**
   * The instances named by {@code specs} (instance ids, {@code i<id>}, or IPC socket paths), in
   * order, duplicates dropped; none: every instance reachable from here (socket here, or an agent).
   */
  List<Long> instances(List<String> specs) {
    List<Long> chosen = new ArrayList<>();
    if (specs == null || specs.isEmpty()) {
      cluster.values().stream().filter(i -> i.socketHere() || i.agent().isPresent())
          .forEach(i -> chosen.add(i.id()));
      if (chosen.isEmpty()) {
        throw new MigrateException(ErrorCode.INVALID, "no instance of the cluster is reachable from here");
      }
      return chosen;
    }
    for (String spec : specs) {
      long instance = resolve(spec);
      if (!chosen.contains(instance)) {
        chosen.add(instance);
      }
    }
    return chosen;
  }

  private long resolve(String spec) {
    String text = spec == null ? "" : spec.trim();
    String digits = text.startsWith("i") ? text.substring(1) : text;
    if (!digits.isEmpty() && digits.chars().allMatch(Character::isDigit)) {
      long instance;
      try {
        instance = Long.parseUnsignedLong(digits);
      } catch (NumberFormatException e) {
        throw new MigrateException(ErrorCode.INVALID, "instance id out of range: " + spec);
      }
      if (!cluster.containsKey(instance)) {
        throw new MigrateException(ErrorCode.INVALID, "no instance " + spec + " in the cluster (it has "
            + cluster.keySet() + ")");
      }
      return instance;
    }
    for (Instance i : cluster.values()) {
      if (text.equals(i.ipcSocket())) {
        return i.id();
      }
    }
    throw new MigrateException(ErrorCode.INVALID, "no instance of the cluster has the IPC socket " + spec
        + " (pass an instance id or an IPC socket path of " + cluster.keySet() + ")");
  }
}
