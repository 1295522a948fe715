package io.v6d.migrate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.tcp.TcpOptions;
import io.v6d.migrate.tls.TlsFiles;
import org.junit.jupiter.api.Test;

/** Concurrent calls share a flight only when every option that changes the outcome is the same. */
class FlightKeyTest {
  private static MigrationRequest request(String name, boolean overwrite, TcpOptions tcp, long timeout) {
    return new MigrationRequest("o1", "/t.sock", "/s.sock", name, true, TransportChoice.AUTO, null, tcp, overwrite,
        timeout);
  }

  private static final MigrationRequest BASE = request("n", false, TcpOptions.DEFAULT, 5000);

  @Test
  void sameRequestSameFlight() {
    assertEquals(MigrationEngine.flightKey(BASE), MigrationEngine.flightKey(request("n", false, TcpOptions.DEFAULT, 5000)));
  }

  @Test
  void overwriteNameCompressionTlsAndTimeoutEachMakeAnotherFlight() {
    String base = MigrationEngine.flightKey(BASE);
    assertNotEquals(base, MigrationEngine.flightKey(request("n", true, TcpOptions.DEFAULT, 5000)));
    assertNotEquals(base, MigrationEngine.flightKey(
        request("n", false, TcpOptions.DEFAULT.withCompression(Compression.ZSTD), 5000)));
    assertNotEquals(base, MigrationEngine.flightKey(
        request("n", false, TcpOptions.DEFAULT.withTls(new TlsFiles(true, null, null, null)), 5000)));
    assertNotEquals(base, MigrationEngine.flightKey(request("n", false, TcpOptions.DEFAULT, 6000)));
  }
}
