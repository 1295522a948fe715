package io.v6d.migrate;

import io.v6d.migrate.engine.MigrationRequest;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.tcp.TcpOptions;

/**
 * How to migrate: every option of {@link Migrate}'s calls, with vineyard-migrate's defaults. One
 * object instead of a growing list of positional parameters, so that a new option does not change
 * every call's signature.
 *
 * <pre>{@code
 * MigrateOptions options = new MigrateOptions().source("/var/run/a.sock").name("frame").timeoutMillis(5_000);
 * MigrationResult r = Migrate.migrate("o0001a2b3c4d5e6f7", "/var/run/b.sock", options, ProgressListener.NONE);
 * }</pre>
 */
public final class MigrateOptions {
  private String source;
  private String name;
  private boolean persist = true;
  private boolean overwriteName;
  private String transport = "auto";
  private String tokenFile;
  private int connections;
  private long timeoutMillis;
  private boolean tls;
  private String compression = "none";
  private String tlsCa;
  private String tlsCert;
  private String tlsKey;
  private boolean copy;
  private io.v6d.migrate.pool.ClientPool pool;

  /**
   * @param source an IPC socket, {@code tcp://host:port} of its agent, {@code rpc://host:port} of its
   *     vineyardd, or null to find the holder through the target's cluster
   */
  public MigrateOptions source(String source) {
    this.source = source;
    return this;
  }

  /** A name for the migrated object on the target (null: none). */
  public MigrateOptions name(String name) {
    this.name = name;
    return this;
  }

  /** Persist the migrated object (default true). */
  public MigrateOptions persist(boolean persist) {
    this.persist = persist;
    return this;
  }

  /** Move {@link #name} to the migrated object even when it names another object (default: refused). */
  public MigrateOptions overwriteName(boolean overwriteName) {
    this.overwriteName = overwriteName;
    return this;
  }

  /** "auto" (default), "local", "tcp" or "rpc". */
  public MigrateOptions transport(String transport) {
    this.transport = transport;
    return this;
  }

  /** The agents' shared token file (null: {@code VINEYARD_MIGRATE_TOKEN}, else the default file). */
  public MigrateOptions tokenFile(String tokenFile) {
    this.tokenFile = tokenFile;
    return this;
  }

  /** At most this many parallel TCP connections (0: the default). */
  public MigrateOptions connections(int connections) {
    this.connections = connections;
    return this;
  }

  /**
   * How long any peer (vineyardd, an agent) may stay silent while we wait for it (0: {@link
   * Timeouts#DEFAULT_MILLIS}); progress restarts the clock. A missed deadline is a CONNECTION_ERROR
   * naming the peer and the request, and the target is left as it was.
   */
  public MigrateOptions timeoutMillis(long timeoutMillis) {
    this.timeoutMillis = timeoutMillis;
    return this;
  }

  /**
   * Speak TLS 1.3 to agents (default false; giving any TLS file implies it). The token is still
   * required: TLS encrypts and authenticates the agent's host, the token authorizes.
   */
  public MigrateOptions tls(boolean tls) {
    this.tls = tls;
    return this;
  }

  /**
   * How blob bytes are compressed on the agent link: "none" (default), "lz4", "zstd", or "auto" (zstd
   * while the first chunks of each blob shrink well enough, raw otherwise).
   */
  public MigrateOptions compression(String compression) {
    this.compression = compression;
    return this;
  }

  /** The CA (PEM) that signed the agents' certificates (null: the JDK's default trust store). */
  public MigrateOptions tlsCa(String tlsCa) {
    this.tlsCa = tlsCa;
    return this;
  }

  /** Our certificate (PEM), for agents that require one (mutual TLS); needs {@link #tlsKey}. */
  public MigrateOptions tlsCert(String tlsCert) {
    this.tlsCert = tlsCert;
    return this;
  }

  /** The key (PKCS#8 PEM) of {@link #tlsCert}. */
  public MigrateOptions tlsKey(String tlsKey) {
    this.tlsKey = tlsKey;
    return this;
  }

  /** The TLS settings of our end of the agent link. */
  public io.v6d.migrate.tls.TlsFiles tlsFiles() {
    return io.v6d.migrate.tls.TlsFiles.client(tls, MigrationRequest.expandHome(tlsCa),
        MigrationRequest.expandHome(tlsCert), MigrationRequest.expandHome(tlsKey));
  }

  /** The engine's request for {@code object} to {@code target} with these options. */
  /**
   * Makes a fresh copy even when an earlier migration of the object to the same target instance
   * left one there; by default that copy is returned (vineyard's own migrate does the same).
   */
  public MigrateOptions copy(boolean copy) {
    this.copy = copy;
    return this;
  }

  /** Keep connections in {@code pool} (a Session's) rather than in the process-wide pool. */
  public MigrateOptions pool(io.v6d.migrate.pool.ClientPool pool) {
    this.pool = pool;
    return this;
  }

  io.v6d.migrate.pool.ClientPool pool() {
    return pool;
  }

  /** The request for one object of a batch, with its own name (or none). */
  MigrationRequest request(String object, String target, String nameOfObject) {
    TcpOptions tcp = (connections <= 0 ? TcpOptions.DEFAULT : new TcpOptions(connections, TcpOptions.DEFAULT.chunkBytes()))
        .withTls(tlsFiles()).withCompression(io.v6d.migrate.compress.Compression.parse(compression));
    return new MigrationRequest(object, target, source, nameOfObject, persist, TransportChoice.parse(transport),
        tokenFile, tcp, overwriteName, timeoutMillis, copy);
  }

  public MigrationRequest request(String object, String target) {
    return request(object, target, name);
  }
}
