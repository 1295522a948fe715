package io.v6d.migrate.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.File;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty {@link SslContext}s for the agent link, TLS 1.3 only. OpenSSL (BoringSSL through
 * netty-tcnative, shaded into the jar for linux-x86_64) where it loads, the JDK's provider
 * otherwise; which one ran is logged at debug. Contexts are built once per set of files.
 */
public final class TlsContexts {
  private static final Logger LOG = LoggerFactory.getLogger(TlsContexts.class);
  private static final String[] PROTOCOLS = {"TLSv1.3"};
  private static final Map<TlsFiles, SslContext> CLIENTS = new ConcurrentHashMap<>();

  private TlsContexts() {}

  /** The provider used: OpenSSL when netty-tcnative loads, else the JDK's. */
  public static SslProvider provider() {
    if (OpenSsl.isAvailable()) {
      return SslProvider.OPENSSL;
    }
    LOG.debug("OpenSSL (netty-tcnative) unavailable, TLS uses the JDK provider: {}", String.valueOf(OpenSsl.unavailabilityCause()));
    return SslProvider.JDK;
  }

  /** The agent's context; with a CA, clients must present a certificate it signed. */
  public static SslContext server(TlsFiles files) {
    return build(files, "the agent's", provider -> {
      SslContextBuilder builder = SslContextBuilder.forServer(new File(files.cert()), new File(files.key()));
      if (files.ca() != null) {
        builder.trustManager(new File(files.ca())).clientAuth(ClientAuth.REQUIRE);
      }
      return builder.sslProvider(provider).protocols(PROTOCOLS).build();
    });
  }

  /** A client's context (cached: a migration opens several connections). */
  public static SslContext client(TlsFiles files) {
    return CLIENTS.computeIfAbsent(files, f -> build(f, "the client's", provider -> {
      SslContextBuilder builder = SslContextBuilder.forClient();
      if (f.ca() != null) {
        builder.trustManager(new File(f.ca()));
      }
      if (f.cert() != null) {
        builder.keyManager(new File(f.cert()), new File(f.key()));
      }
      return builder.sslProvider(provider).protocols(PROTOCOLS).build();
    }));
  }

  /**
   * A client's handler for {@code host}: the agent's certificate must name it (as HTTPS checks).
   * Made by the context (not around {@code newEngine}) so that an OpenSSL engine runs without the
   * JDK-compatibility mode, which decrypts one 16 KiB record per call: without it, one call
   * decrypts every whole record a socket read brought (a client's profile showed the per-record
   * path, {@code SslHandler.decodeJdkCompatible}, on its event loop).
   */
  public static SslHandler clientHandler(TlsFiles files, ByteBufAllocator alloc, String host, int port) {
    SslHandler handler = client(files).newHandler(alloc, host, port);
    SSLEngine engine = handler.engine();
    SSLParameters parameters = engine.getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    engine.setSSLParameters(parameters);
    return handler;
  }

  private interface Builder {
    SslContext build(SslProvider provider) throws SSLException;
  }

  private static SslContext build(TlsFiles files, String whose, Builder builder) {
    SslProvider provider = provider();
    try {
      SslContext context;
      try {
        context = builder.build(provider);
      } catch (SSLException | RuntimeException e) {
        if (provider == SslProvider.JDK) {
          throw e;
        }
        LOG.debug("OpenSSL refused {} TLS settings ({}), trying the JDK provider", whose, e.toString());
        provider = SslProvider.JDK;
        context = builder.build(provider);
      }
      LOG.debug("{} TLS 1.3 context uses the {} provider", whose, provider);
      return context;
    } catch (SSLException | RuntimeException e) {
      throw new MigrateException(ErrorCode.INVALID, "cannot use " + whose + " TLS files (cert " + files.cert() + ", key "
          + files.key() + ", ca " + files.ca() + "): " + e.getMessage(), e);
    }
  }
}
