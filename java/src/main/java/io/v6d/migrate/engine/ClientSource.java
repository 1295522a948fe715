package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.rpc.RpcTransport;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.SharedMemoryTransport;

/**
 * A source reached through vineyardd itself: its IPC socket (shared memory) or its RPC port, by a
 * connection leased from the pool ({@link TransportSelector} asks for it); opens nothing itself.
 */
final class ClientSource implements SourceEndpoint {
  private final VineyardClient client;
  private final BlobTransport transport;

  private ClientSource(VineyardClient client, BlobTransport transport) {
    this.client = client;
    this.transport = transport;
  }

  /** A vineyardd on this host, through a pooled IPC connection that closing gives back. */
  static ClientSource ipc(ClientPool.Lease lease) {
    return new ClientSource(lease.client(), new SharedMemoryTransport(lease));
  }

  /** The target seen as a view of its cluster: no transport, and closing it leaves the client open. */
  static ClientSource view(VineyardClient target) {
    return new ClientSource(target, null);
  }

  /** A vineyardd reached through its RPC port, by a connection that closing ends. */
  static ClientSource rpc(ClientPool.Lease lease) {
    return new ClientSource(lease.client(), new RpcTransport(lease));
  }

  VineyardClient client() {
    return client;
  }

  @Override
  public long instanceId() {
    return client.instanceId();
  }

  @Override
  public String ipcSocket() {
    return client.ipcSocket();
  }

  @Override
  public String rpcEndpoint() {
    return client.rpcEndpoint();
  }

  @Override
  public JsonNode clusterMeta() {
    return client.clusterMeta();
  }

  @Override
  public ObjectNode getData(long id, boolean syncRemote) {
    return client.getData(id, syncRemote);
  }

  @Override
  public java.util.Map<Long, JsonNode> getDatas(java.util.Collection<Long> ids, boolean syncRemote) {
    return client.getDatas(ids, syncRemote);
  }

  @Override
  public long getName(String name) {
    return client.getName(name);
  }

  @Override
  public BlobTransport transport() {
    return transport;
  }

  @Override
  public void close() {
    if (transport != null) {
      transport.close(); // ends the lease: a pooled IPC connection goes back, an RPC one is closed
    }
  }
}
