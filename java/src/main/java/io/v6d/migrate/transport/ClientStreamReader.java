package io.v6d.migrate.transport;

import io.v6d.migrate.ipc.VineyardClient;

/** A stream read through vineyardd itself (its IPC socket or its RPC port). */
public final class ClientStreamReader implements StreamReader {
  private final VineyardClient client;

  public ClientStreamReader(VineyardClient client) {
    this.client = client;
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
    client.close();
  }
}
