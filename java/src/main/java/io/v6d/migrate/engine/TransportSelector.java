package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.agent.AgentRegistry;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.protocol.Token;
import io.v6d.migrate.rpc.RpcTransport;
import io.v6d.migrate.tcp.AgentEndpoint;
import io.v6d.migrate.tcp.TcpOptions;
import io.v6d.migrate.tcp.TcpPullTransport;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.SharedMemoryTransport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses how to reach the instance that holds some blobs.
 *
 * <p>{@code auto}: the same host (the instance's host name is this host's, and its IPC socket is
 * here) → shared memory; else an agent published for the instance ({@link AgentRegistry}) → TCP;
 * else vineyardd's RPC port. A forced choice that cannot be honoured is an error that says why.
 *
 * <p>The one place where a migration's source side gets connections: every one is asked of the
 * pool ({@link ClientPool#current()}), which opens, keeps and closes them; {@link ClientSource},
 * {@link AgentSource} and the transports only use the leases they are given. The agents' published
 * endpoints are remembered by the pool too ({@link ClientPool#agentOf}).
 */
final class TransportSelector {
  static final String RPC_SCHEME = "rpc://";
  private static final Logger LOG = LoggerFactory.getLogger(TransportSelector.class);

  private final TransportChoice choice;
  private final String tokenFile;
  private final TcpOptions tcp;
  private final long timeoutMillis;

  TransportSelector(MigrationRequest request) {
    this.choice = request.transport();
    this.tokenFile = request.tokenFile();
    this.tcp = request.tcp();
    this.timeoutMillis = request.timeoutMillis();
  }

  /** The source the caller named: an IPC socket path, {@code rpc://host:port} or {@code tcp://host:port}. */
  SourceEndpoint openExplicit(String source) {
    if (AgentEndpoint.isEndpoint(source)) {
      require(TransportChoice.TCP, source);
      return new AgentSource(ClientPool.current().agent(AgentEndpoint.parse(source), token(), tcp, timeoutMillis), tcp);
    }
    if (source.startsWith(RPC_SCHEME)) {
      require(TransportChoice.RPC, source);
      return ClientSource.rpc(ClientPool.current().rpc(source.substring(RPC_SCHEME.length()), timeoutMillis));
    }
    return ClientSource.ipc(ClientPool.current().ipc(source, timeoutMillis));
  }

  /** Whether the explicit source's own transport is the one asked for. */
  boolean fits(SourceEndpoint explicit) {
    String name = explicit.transport().name();
    return switch (choice) {
      case AUTO -> true;
      case LOCAL -> name.equals("local");
      case TCP -> name.equals("tcp");
      case RPC -> name.startsWith("rpc");
    };
  }

  /** A transport to {@code holder}, an instance of the cluster {@code view} describes. */
  BlobTransport open(SourceEndpoint view, long holder, long objectId) {
    JsonNode entry = view.clusterMeta().path("i" + holder);
    if (!entry.isObject()) {
      throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "object " + ObjectIds.format(objectId)
          + " names instance " + holder + ", which is not in the cluster");
    }
    switch (choice) {
      case LOCAL:
        return local(entry, holder);
      case TCP:
        return agentOf(view, holder).map(agent -> tcp(view, holder, agent)).orElseThrow(() -> new MigrateException(ErrorCode.CONNECTION_FAILED,
            "no agent is known for instance " + holder + " (" + entry.path("hostname").asText() + "): start "
                + "`vineyard-migrate serve --socket " + entry.path("ipc_socket").asText() + "` beside it, "
                + "or pass source=tcp://host:port"));
      case RPC:
        return rpc(entry);
      default:
        if (sameHost(entry)) {
          return local(entry, holder);
        }
        Optional<AgentEndpoint> agent = agentOf(view, holder);
        if (agent.isPresent()) {
          try {
            return tcp(view, holder, agent.get());
          } catch (MigrateException e) {
            LOG.warn("agent {} of instance {} is not usable ({}); falling back to vineyardd's RPC",
                agent.get(), holder, e.getMessage());
          }
        }
        return rpc(entry);
    }
  }

  private static boolean sameHost(JsonNode entry) {
    String socket = entry.path("ipc_socket").asText("");
    return entry.path("hostname").asText().equals(LocalHost.name()) && !socket.isEmpty() && Files.exists(Path.of(socket));
  }

  private BlobTransport local(JsonNode entry, long holder) {
    String socket = entry.path("ipc_socket").asText("");
    if (socket.isEmpty() || !Files.exists(Path.of(socket))) {
      throw new MigrateException(ErrorCode.CONNECTION_FAILED, "instance " + holder + " ("
          + entry.path("hostname").asText("unknown host") + ") has no IPC socket on this host ('" + socket
          + "'): use transport='tcp' or 'rpc' to reach another host");
    }
    return new SharedMemoryTransport(ClientPool.current().ipc(socket, timeoutMillis));
  }

  /**
   * Pulls through the agent published for {@code holder}. An endpoint the pool remembered that
   * cannot be reached is forgotten and looked up again, once: the agent may have restarted on
   * another port and published that since.
   */
  private BlobTransport tcp(SourceEndpoint view, long holder, AgentEndpoint endpoint) {
    return tcp(view, holder, endpoint, true);
  }

  private BlobTransport tcp(SourceEndpoint view, long holder, AgentEndpoint endpoint, boolean lookAgain) {
    try {
      return new TcpPullTransport(ClientPool.current().agent(endpoint, token(), tcp, timeoutMillis), tcp);
    } catch (MigrateException e) {
      ClientPool.current().forgetAgentOf(clusterName(view), holder);
      Optional<AgentEndpoint> published = lookAgain ? agentOf(view, holder) : Optional.empty();
      if (published.isEmpty() || published.get().equals(endpoint)) {
        throw e;
      }
      LOG.debug("agent {} of instance {} is gone ({}); it is published at {} now", endpoint, holder, e.getMessage(),
          published.get());
      return tcp(view, holder, published.get(), false);
    }
  }

  private BlobTransport rpc(JsonNode entry) {
    return new RpcTransport(ClientPool.current().rpc(entry.path("rpc_endpoint").asText(), timeoutMillis));
  }

  /** The agent published for {@code holder}, as the pool remembers it or else as {@code view} says. */
  private static Optional<AgentEndpoint> agentOf(SourceEndpoint view, long holder) {
    return ClientPool.current().agentOf(clusterName(view), holder,
        () -> AgentRegistry.lookup(view::getName, view::getData, holder));
  }

  /** The view of a cluster by the instance it was seen through (instance ids repeat across clusters). */
  private static String clusterName(SourceEndpoint view) {
    return view.ipcSocket() + "|" + view.rpcEndpoint() + "|" + view.instanceId();
  }

  private byte[] token() {
    return Token.load(tokenFile == null ? null : Path.of(tokenFile));
  }

  private void require(TransportChoice needed, String source) {
    if (choice != TransportChoice.AUTO && choice != needed) {
      throw new MigrateException(ErrorCode.INVALID, "source " + source + " is reached by transport '"
          + needed.name().toLowerCase() + "', not '" + choice.name().toLowerCase() + "'");
    }
  }
}
