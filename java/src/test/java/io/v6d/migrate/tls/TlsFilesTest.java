package io.v6d.migrate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsFilesTest {
  @TempDir
  Path dir;

  @Test
  void noFilesNoTls() {
    assertSame(TlsFiles.NONE, TlsFiles.client(false, null, null, null));
    assertSame(TlsFiles.NONE, TlsFiles.server(null, null, null));
    assertTrue(TlsFiles.client(true, null, null, null).enabled());
  }

  @Test
  void anyFileMeansTls() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
    assertTrue(TlsFiles.client(false, ca.toString(), null, null).enabled());
  }

  @Test
  void aCertificateNeedsItsKeyAndTheFilesMustExist() throws Exception {
    Path cert = Files.writeString(dir.resolve("c.pem"), "x");
    assertEquals(ErrorCode.INVALID,
        assertThrows(MigrateException.class, () -> TlsFiles.client(true, null, cert.toString(), null)).code());
    assertEquals(ErrorCode.INVALID, assertThrows(MigrateException.class,
        () -> TlsFiles.server(cert.toString(), dir.resolve("missing.key").toString(), null)).code());
    assertEquals(ErrorCode.INVALID,
        assertThrows(MigrateException.class, () -> TlsFiles.server(null, null, cert.toString())).code());
  }

  @Test
  void badPemIsAClearError() throws Exception {
    Path cert = Files.writeString(dir.resolve("c.pem"), "not a certificate");
    Path key = Files.writeString(dir.resolve("k.pem"), "not a key");
    MigrateException e = assertThrows(MigrateException.class,
        () -> TlsContexts.server(TlsFiles.server(cert.toString(), key.toString(), null)));
    assertEquals(ErrorCode.INVALID, e.code());
    assertFalse(e.getMessage().isEmpty());
  }
}
