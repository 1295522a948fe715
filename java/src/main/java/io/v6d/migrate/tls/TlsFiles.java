package io.v6d.migrate.tls;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * TLS settings of one end of the agent link, as PEM files (keys in PKCS#8, as {@code openssl genpkey}
 * writes them).
 *
 * <p>Agent: {@code cert} and {@code key} are required; with {@code ca}, peers must present a
 * certificate signed by it (mutual TLS). Client: {@code enabled} turns TLS on; {@code ca} is what
 * the agent's certificate must be signed by (null: the JDK's default trust store); {@code cert} and
 * {@code key} are the client's own certificate, for agents that require one.
 */
public record TlsFiles(boolean enabled, String cert, String key, String ca) {
  /** No TLS: the plaintext agent link. */
  public static final TlsFiles NONE = new TlsFiles(false, null, null, null);

  public TlsFiles {
    cert = blankToNull(cert);
    key = blankToNull(key);
    ca = blankToNull(ca);
    if ((cert == null) != (key == null)) {
      throw new MigrateException(ErrorCode.INVALID, "a TLS certificate needs its key and a key its certificate: "
          + "give both (tls_cert/--tls-cert and tls_key/--tls-key) or neither");
    }
    if (!enabled && (cert != null || ca != null)) {
      enabled = true; // giving TLS files means TLS
    }
    for (String file : new String[] {cert, key, ca}) {
      if (file != null && !Files.isReadable(Path.of(file))) {
        throw new MigrateException(ErrorCode.INVALID, "cannot read the TLS file " + file);
      }
    }
  }

  /** A client's settings: TLS when {@code enabled} or when any file is given. */
  public static TlsFiles client(boolean enabled, String ca, String cert, String key) {
    return enabled || ca != null || cert != null || key != null ? new TlsFiles(true, cert, key, ca) : NONE;
  }

  /** An agent's settings: TLS when it has a certificate. */
  public static TlsFiles server(String cert, String key, String ca) {
    if (cert == null && key == null) {
      if (ca != null) {
        throw new MigrateException(ErrorCode.INVALID, "--tls-ca needs --tls-cert and --tls-key (the agent's own certificate)");
      }
      return NONE;
    }
    return new TlsFiles(true, cert, key, ca);
  }

  /**
   * How an agent with these server settings dials other agents (pulling for a peer's rebalance):
   * each of {@code ca} and the pair {@code cert}/{@code key} when given, else the agent's own; TLS
   * when the agent speaks it or any file is given. The agent's certificate then doubles as a client
   * certificate, so for mutual TLS it must allow client use (extendedKeyUsage clientAuth, or none).
   */
  public static TlsFiles peer(TlsFiles server, String ca, String cert, String key) {
    if (cert == null && key == null) {
      cert = server.cert();
      key = server.key();
    }
    return client(server.enabled(), ca != null ? ca : server.ca(), cert, key);
  }

  private static String blankToNull(String text) {
    return text == null || text.isBlank() ? null : text;
  }
}
