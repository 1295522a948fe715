package io.v6d.migrate.metrics;

import com.sun.net.httpserver.HttpExchange;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/**
 * {@code serve --metrics-port}: {@code /metrics} in the Prometheus text format (Prometheus' own
 * exporter) and {@code /healthz}: 200 while the agent is healthy, 503 otherwise.
 */
public final class MetricsServer implements AutoCloseable {
  private final HTTPServer server;

  private MetricsServer(HTTPServer server) {
    this.server = server;
  }

  /** Listens on {@code host:port} (0: any free port). */
  public static MetricsServer start(String host, int port, BooleanSupplier healthy) throws IOException {
    return new MetricsServer(HTTPServer.builder()
        .hostname(host)
        .port(port)
        .registry(AgentMetrics.REGISTRY)
        .defaultHandler(exchange -> answer(exchange, healthy))
        .buildAndStart());
  }

  /** Every path the exporter does not serve itself: /healthz, else 404. */
  private static void answer(HttpExchange exchange, BooleanSupplier healthy) throws IOException {
    int status;
    String body;
    if (exchange.getRequestURI().getPath().equals("/healthz")) {
      boolean ok = healthy.getAsBoolean();
      status = ok ? 200 : 503;
      body = ok ? "ok\n" : "not ready: vineyardd unreachable or the endpoint not published\n";
    } else {
      status = 404;
      body = "not found: /metrics or /healthz\n";
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.close();
  }
}
