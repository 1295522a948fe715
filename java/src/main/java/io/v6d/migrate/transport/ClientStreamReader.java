package io.v6d.migrate.transport;

import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.pool.ClientPool;

/** A stream read through vineyardd itself (its IPC socket or its RPC port). */
public final class ClientStreamReader implements StreamReader {
  private final VineyardClient client;
  private final AutoCloseable owner;

  public ClientStreamReader(VineyardClient client) {
    this.client = client;
    this.owner = client;
  }

  /**
   * Reads through a pooled connection, which it closes rather than gives back: the connection holds
   * the open stream and the chunks it pulled.
   */
  public ClientStreamReader(ClientPool.Lease lease) {
    this.client = lease.client();
    this.owner = lease;
  }

  @Override
  public void open(long streamId) {
    client.streams().open(streamId, false);
  }

  @Override
  public long next(long streamId) {
    return client.streams().pullNext(streamId);
  }

  @Override
  public void close() {
    try {
      owner.close();
    } catch (Exception e) {
      // closing a connection reports nothing worth failing a finished read for
    }
  }
}
