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
import io.v6d.migrate.tcp.PublishedAgent;
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
 *
 * <p>An agent whose published TLS setting differs from ours cannot be dialled. For a plaintext
 * caller, {@code auto} then falls back to RPC (with a warning saying why). For a caller that asked
 * for TLS, or an agent pulling chunks for a peer's rebalance, it is an error naming that agent and
 * what to configure. Whoever asked for TLS never falls back to vineyardd's plaintext RPC when the TLS
 * link fails (a certificate refused, say): the data would cross in the clear; it reports why.
 */
final class TransportSelector {
  static final String RPC_SCHEME = "rpc://";
  private static final Logger LOG = LoggerFactory.getLogger(TransportSelector.class);

  private final TransportChoice choice;
  private final String tokenFile;
  private final TcpOptions tcp;
  private final long timeoutMillis;

  /** We are an agent pulling for a peer: a TLS mismatch is an error, never a fallback to RPC. */
  private final boolean byAgent;

  TransportSelector(MigrationRequest request, boolean byAgent) {
    this.byAgent = byAgent;
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
        Optional<PublishedAgent> agent = agentOf(view, holder);
        if (agent.isPresent()) {
          if (tcp.tls().enabled()) {
            // a mismatch or a TLS failure is reported, never downgraded to plaintext RPC
            return tcp(view, holder, agent.get());
          }
          if (byAgent) {
            refuseTlsMismatch(agent.get(), holder); // for an agent an error, not a fallback
          }
          try {
            return tcp(view, holder, agent.get());
          } catch (MigrateException e) {
            LOG.warn("agent {} of instance {} is not usable ({}); falling back to vineyardd's RPC",
                agent.get().endpoint(), holder, e.getMessage());
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
  private BlobTransport tcp(SourceEndpoint view, long holder, PublishedAgent agent) {
    return tcp(view, holder, agent, true);
  }

  private BlobTransport tcp(SourceEndpoint view, long holder, PublishedAgent agent, boolean lookAgain) {
    refuseTlsMismatch(agent, holder);
    AgentEndpoint endpoint = agent.endpoint();
    try {
      return new TcpPullTransport(ClientPool.current().agent(endpoint, token(), tcp, timeoutMillis), tcp);
    } catch (MigrateException e) {
      ClientPool.current().forgetAgentOf(clusterName(view), holder);
      Optional<PublishedAgent> published = lookAgain ? agentOf(view, holder) : Optional.empty();
      if (published.isEmpty() || published.get().endpoint().equals(endpoint)) {
        throw e;
      }
      LOG.debug("agent {} of instance {} is gone ({}); it is published at {} now", endpoint, holder, e.getMessage(),
          published.get().endpoint());
      return tcp(view, holder, published.get(), false);
    }
  }

  /** The agent speaks TLS and we would not, or the reverse: say so, and what to configure. */
  private void refuseTlsMismatch(PublishedAgent agent, long holder) {
    if (agent.tls() == tcp.tls().enabled()) {
      return;
    }
    String whose = "instance " + holder + "'s agent " + agent.endpoint();
    String fix;
    if (agent.tls()) {
      fix = byAgent
          ? " speaks TLS, and this agent dials other agents in plaintext: start this agent with --tls-cert and "
              + "--tls-key (and --tls-ca, the CA that signed the other agents' certificates), or give it "
              + "--peer-tls-ca (and --peer-tls-cert/--peer-tls-key if the other agents require client certificates)"
          : " speaks TLS and this side does not: pass tls=True and tls_ca= (--tls --tls-ca), or transport='rpc'";
    } else {
      fix = byAgent
          ? " speaks plaintext, and this agent dials other agents over TLS: start that agent with --tls-cert and "
              + "--tls-key too"
          : " speaks plaintext and this side asked for TLS: start that agent with --tls-cert and --tls-key, or "
              + "leave TLS off";
    }
    throw new MigrateException(ErrorCode.CONNECTION_FAILED, whose + fix);
  }

  private BlobTransport rpc(JsonNode entry) {
    return new RpcTransport(ClientPool.current().rpc(entry.path("rpc_endpoint").asText(), timeoutMillis));
  }

  /** The agent published for {@code holder}, as the pool remembers it or else as {@code view} says. */
  private static Optional<PublishedAgent> agentOf(SourceEndpoint view, long holder) {
    return ClientPool.current().agentOf(clusterName(view), holder,
        () -> AgentRegistry.lookupPublished(view::getName, view::getData, holder));
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
